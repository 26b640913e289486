"""Forwarding to the 好差评 platform: the outbox (outbox.py), its configuration and field mapping
(mapping.py) and the worker that sends it (worker.py)."""
