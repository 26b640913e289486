"""Ticket and 一次性告知清单 layouts → ESC/POS bytes (`kiosk.tickets.layouts`), and the service items
a notice is printed for (`kiosk.tickets.service_items`)."""
from kiosk.tickets.layouts import (  # noqa: F401
    NoticeText, PrintSetup, Receipt, TicketText, notice_job, ticket_job,
)
