"""The `kiosk` commands other than `run`: provision, selftest, status."""
