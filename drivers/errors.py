"""One base for every device failure, so the service can catch "the hardware said no" in one
place (after gpiozero's exc.py: a base class, one subclass per device)."""


class DriverError(RuntimeError):
    """A device cannot be used or did not do what it was asked."""
