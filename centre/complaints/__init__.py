"""The complaints register (投诉): register.py."""
