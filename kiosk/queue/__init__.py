"""The queue: its pure state machine (`kiosk.queue.machine`, importable from here) and the service
around it on the unit (backends, the queue host link, the printer, the dispenser's screen)."""
from kiosk.queue.machine import (  # noqa: F401
    QUEUE_EVENT_TYPES, QueueRefused, Category, QueueRules, business_day, wall_seconds,
    ticket_number, number_of, Ticket, Estimate, KeyLockout, QueueMachine,
)
from kiosk.queue.speech import call_clips, ticket_clips  # noqa: F401
