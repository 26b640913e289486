"""The kiosk ↔ centre wire format (../shared/PROTOCOL.md): event types, the canonical form, the
hash chain, head signatures and the protocol's limits.

A leaf: the unit (`kiosk`), its uploader (`sync`) and the centre (`centre`) all import it, and it
imports nothing of theirs, so the three can never disagree on what an event is or what a hash or
a signature covers. No I/O here.
"""
PROTOCOL_VERSION = 1
MAX_BATCH = 500   # events in one upload
