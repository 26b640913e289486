"""The rating state machine (pure: inputs → new state + events to append) and the press filter it
uses. The machine lives in `kiosk.rating.machine`; its names are importable from here."""
from kiosk.rating.machine import (  # noqa: F401
    BAD_LEVELS, REASON_KEYS, MAX_REASONS, OTHER_LABEL, OTHER_CODE, MORE_LABEL, RatingRefused, RatingRules,
    ReasonChoice, Decision, reason_pages, RatingMachine,
)
