"""Realistic sample views: the documentation screenshots (`python -m kiosk.screens`) and the
screen tests draw these, so what the docs show is what the tests check."""
from __future__ import annotations

from dataclasses import replace

from kiosk.screens.views import (LEVEL_LABELS, Dispenser, Idle, IssuedTicket, KeyOption, NotSignedIn,
                         OutOfOrder, Paused, RatingPrompt, ReasonPrompt, StaffCard, Thanks,
                         TicketOption, TicketsStopped, View)

SCREEN_SIZES: tuple[tuple[int, int], ...] = ((480, 320), (800, 480), (1024, 600))

SAMPLE_CARD = StaffCard(
    staff_id="1001",
    name="张敏",
    counter_id="3",
    title="综合业务岗",
    duties="缴存、提取业务办理",
)

SAMPLE_REASONS = ("等待时间长", "服务态度差", "业务不熟练", "一次性告知不到位", "其他")
# A centre list of six (plus 其他): two pages, 更多原因 on key 5 of the first.
SAMPLE_MORE_REASONS = ("等待时间长", "服务态度差", "业务不熟练", "一次性告知不到位", None)
SAMPLE_SECOND_PAGE = ("办理时间长", "环境设施差", None, None, "其他")

SAMPLE_CENTRE = "市住房公积金管理中心"
SAMPLE_TICKET_OPTIONS = (TicketOption(1, "缴存", 3), TicketOption(2, "提取", 12),
                         TicketOption(3, "贷款", 5), TicketOption(4, "咨询", 0),
                         TicketOption(5, "绿色通道", 1))
SAMPLE_PARTLY_CLOSED = tuple(replace(option, open=option.key > 2) for option in SAMPLE_TICKET_OPTIONS)


def rating_options(levels: tuple[int, ...] = (5, 4, 3, 2, 1)) -> tuple[KeyOption, ...]:
    """Key i+1 rates levels[i]; the default puts 非常满意 on the leftmost key."""
    return tuple(KeyOption(key=key, label=LEVEL_LABELS[level], level=level)
                 for key, level in enumerate(levels, start=1))


def reason_options(labels: tuple[str | None, ...] = SAMPLE_REASONS) -> tuple[KeyOption, ...]:
    """Key i+1 shows labels[i]; None on key 5 is 更多原因, None elsewhere an empty key."""
    return tuple(KeyOption(key=key, label=label) if label is not None else KeyOption(key, "更多原因", more=True)
                 for key, label in enumerate(labels, start=1) if label is not None or key == 5)


def sample_views() -> dict[str, View]:
    """One view of each kind, keyed by the name its screenshot file carries."""
    return {
        "not_signed_in": NotSignedIn(counter_id="3"),
        "idle": Idle(card=replace(SAMPLE_CARD, serving_ticket="A012")),
        "rating_prompt": RatingPrompt(card=SAMPLE_CARD, options=rating_options(),
                                      seconds_left=18),
        "reason_prompt": ReasonPrompt(options=reason_options(), seconds_left=15),
        "reason_prompt_more": ReasonPrompt(options=reason_options(SAMPLE_MORE_REASONS), seconds_left=15,
                                           page=1, pages=2),
        "reason_prompt_page2": ReasonPrompt(options=reason_options(SAMPLE_SECOND_PAGE), seconds_left=15,
                                            page=2, pages=2),
        "thanks": Thanks(level=5),
        "paused": Paused(counter_id="3", reason="break", since="12:05"),
        "out_of_order": OutOfOrder(cause="存储空间已满", counter_id="3"),
        "idle_queue_offline": Idle(card=replace(SAMPLE_CARD, queue_offline=True)),
        "dispenser": Dispenser(SAMPLE_CENTRE, SAMPLE_TICKET_OPTIONS),
        "dispenser_surge": Dispenser(SAMPLE_CENTRE, SAMPLE_TICKET_OPTIONS, surge=True),
        "dispenser_issued": Dispenser(SAMPLE_CENTRE, SAMPLE_TICKET_OPTIONS,
                                      issued=IssuedTicket("B013", "提取", 12, 36)),
        "dispenser_paper_out": Dispenser(SAMPLE_CENTRE, SAMPLE_TICKET_OPTIONS, problem="打印机缺纸"),
        # 结束营业: the counters of 缴存 and 提取 closed; then every counter, or the closing time.
        "dispenser_partly_closed": Dispenser(SAMPLE_CENTRE, SAMPLE_PARTLY_CLOSED),
        "dispenser_category_closed": Dispenser(SAMPLE_CENTRE, SAMPLE_PARTLY_CLOSED, stopped=TicketsStopped(
            "缴存", ("贷款", "咨询", "绿色通道"))),
        "dispenser_closed": Dispenser(SAMPLE_CENTRE, tuple(replace(o, open=False) for o in SAMPLE_TICKET_OPTIONS),
                                      stopped=TicketsStopped()),
    }
