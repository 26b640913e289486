"""What the counter screen should show, as plain data.

State machines return one of these; `kiosk.screens` draws them. Keeping the description separate
from the drawing lets the rules be tested without pygame and lets the renderer cache by value.
"""
from __future__ import annotations

from dataclasses import dataclass

LEVEL_LABELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}

PAUSE_REASON_LABELS = {
    "break": "暂时离开",
    "meeting": "开会",
    "closing": "结束营业",
}

COMPLAINT_PHONE = "12329"

# Why the dispenser cannot give a ticket now, by drivers.printer state.
PRINTER_PROBLEM_LABELS = {
    "paper_out": "打印机缺纸",
    "offline": "打印机未连接或离线",
    "unknown": "打印机无应答",
    "no_printer": "未配置打印机",
}
TICKET_VOIDED_LABEL = "打印失败，号码已作废，请重新取号"


def printer_problem_label(state: str) -> str:
    return PRINTER_PROBLEM_LABELS.get(state, PRINTER_PROBLEM_LABELS["unknown"])


def pause_reason_label(reason: str) -> str:
    return PAUSE_REASON_LABELS.get(reason, reason)


@dataclass(frozen=True)
class StaffCard:
    staff_id: str
    name: str
    counter_id: str
    title: str = ""
    duties: str = ""
    photo: str | None = None  # path to an image file on the unit, if any
    complaint_phone: str = COMPLAINT_PHONE
    serving_ticket: str | None = None
    queue_offline: bool = False  # the hall's queue host does not answer: calling is unavailable


@dataclass(frozen=True)
class KeyOption:
    key: int      # 1 = leftmost key
    label: str
    level: int | None = None  # rating level for rating keys; None for reason keys
    more: bool = False        # the key turns to the next page of reasons (更多原因)
    available: bool = True    # False: the key takes nothing now (a dispenser category that stopped)


@dataclass(frozen=True)
class NotSignedIn:
    counter_id: str
    complaint_phone: str = COMPLAINT_PHONE


@dataclass(frozen=True)
class Idle:
    card: StaffCard


@dataclass(frozen=True)
class RatingPrompt:
    card: StaffCard
    options: tuple[KeyOption, ...]  # in the keys' order, left to right
    seconds_left: int


@dataclass(frozen=True)
class ReasonPrompt:
    options: tuple[KeyOption, ...]
    seconds_left: int
    page: int = 1     # of `pages`: a list of five to eight reasons takes two
    pages: int = 1


@dataclass(frozen=True)
class Thanks:
    level: int


@dataclass(frozen=True)
class Paused:
    counter_id: str
    reason: str   # code or free text as recorded; screens show pause_reason_label(reason)
    since: str    # local wall clock "HH:MM"
    complaint_phone: str = COMPLAINT_PHONE


@dataclass(frozen=True)
class OutOfOrder:
    cause: str    # short Chinese explanation for the technician, e.g. "存储空间已满"
    counter_id: str = ""


@dataclass(frozen=True)
class TicketOption:
    key: int          # 1 = leftmost ticket key
    name: str         # category name, e.g. 缴存
    waiting: int
    open: bool = True  # False: no counter of it is open today, it takes no tickets


@dataclass(frozen=True)
class TicketsStopped:
    """Why the dispenser gives no ticket: the whole hall has closed for the day, or the category
    pressed has (and these still take tickets)."""
    category_name: str | None = None      # None: no category takes tickets
    open_names: tuple[str, ...] = ()
    after_hours: bool = False             # past the hall's closing time, not counters closing


@dataclass(frozen=True)
class IssuedTicket:
    ticket: str
    category_name: str
    waiting_ahead: int
    wait_min: int


@dataclass(frozen=True)
class Dispenser:
    """The ticket dispenser: one block per key, or the ticket just taken, or why none can be."""
    centre_name: str
    options: tuple[TicketOption, ...]
    surge: bool = False
    problem: str | None = None          # e.g. "打印机缺纸": no ticket can be taken now
    issued: IssuedTicket | None = None
    complaint_phone: str = COMPLAINT_PHONE
    stopped: TicketsStopped | None = None  # 今日已停止取号


View = (NotSignedIn | Idle | RatingPrompt | ReasonPrompt | Thanks | Paused | OutOfOrder
        | Dispenser)
