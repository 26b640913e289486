"""What each state looks like: `Renderer.render(view)` draws a `kiosk.views` view onto a pygame
Surface of the screen's size.

Many citizens are elderly, so everything is large, light on a dark navy ground, and every font
size is a share of the screen height, with long names, duties and reasons shrunk (then cut with
an ellipsis) to fit their box. Frames of the states that come back (the thanks screens, the
staff card, the pause sign …) are cached by view (views are frozen dataclasses), so showing one
again on a key press costs a dictionary look-up instead of a redraw.
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import pygame

from kiosk.screens.fonts import ELLIPSIS, TextPainter, find_cjk_font, missing_glyphs, pick_face_index
from kiosk.screens.views import (COMPLAINT_PHONE, LEVEL_LABELS, PAUSE_REASON_LABELS,
                         PRINTER_PROBLEM_LABELS, TICKET_VOIDED_LABEL, Dispenser, Idle, KeyOption,
                         NotSignedIn, OutOfOrder, Paused, RatingPrompt, ReasonPrompt, StaffCard,
                         Thanks, View, pause_reason_label)

__all__ = ["Renderer", "PlacedText", "find_cjk_font", "missing_glyphs", "screen_strings",
           "contrast_ratio", "text_color_on", "LEVEL_COLORS"]

log = logging.getLogger(__name__)

# Every fixed piece of text a screen can draw (screen_strings() hands them to the glyph check).
COUNTER_SUFFIX = "号窗口"
STAFF_ID_LABEL = "工号"
DUTIES_LABEL = "职责："
SERVING_LABEL = "正在办理"
COMPLAINT_LABEL = "投诉电话"
SECONDS_LEFT_LABEL = "剩余"
SECONDS_UNIT = "秒"
RATING_TITLE = "请您对本次服务进行评价"
REASON_TITLE = "请选择不满意的原因"
REASON_PAGE_LABEL = "第{page}/{pages}页"
MORE_REASONS_LABEL = "更多原因"
THANKS_TITLE = "感谢您的评价"
THANKS_CHOICE_LABEL = "您的评价"
PAUSED_TITLE = "暂停服务"
PAUSED_SINCE_LABEL = "暂停时间"
NOT_SIGNED_IN_TITLE = "暂无工作人员"
NOT_SIGNED_IN_HINT = "请到其他窗口办理"
OUT_OF_ORDER_TITLE = "设备故障 暂停使用"
OUT_OF_ORDER_HINT = "请联系工作人员"
QUEUE_OFFLINE = "叫号服务不可用"
DISPENSER_TITLE = "请按键选择业务取号"
WAITING_LABEL = "等候"
PEOPLE_UNIT = "人"
SURGE_LABEL = "当前等候时间较长"
YOUR_NUMBER_LABEL = "您的号码"
AHEAD_LABEL = "前面还有"
ESTIMATE_LABEL = "预计等候约"
MINUTES_UNIT = "分钟"
TAKE_TICKET_HINT = "请取走号票，留意叫号"
DISPENSER_STOPPED_TITLE = "暂停取号"
CLOSED_FOR_TODAY_TITLE = "今日已停止取号"
CLOSED_KEY_LABEL = "停止取号"
STILL_OPEN_LABEL = "可取号业务："
COUNTERS_CLOSED_LABEL = "各窗口已结束营业"
AFTER_HOURS_LABEL = "已过今日取号时间"
COME_BACK_HINT = "请于下一个工作日前来办理"
PRESS_OPEN_KEY_HINT = "请按对应按键取号"
DIGITS = "0123456789:"

_FIXED_STRINGS = (
    COUNTER_SUFFIX, STAFF_ID_LABEL, DUTIES_LABEL, SERVING_LABEL, COMPLAINT_LABEL,
    SECONDS_LEFT_LABEL, SECONDS_UNIT, RATING_TITLE, REASON_TITLE, MORE_REASONS_LABEL, "第/页", THANKS_TITLE,
    THANKS_CHOICE_LABEL, PAUSED_TITLE, PAUSED_SINCE_LABEL, NOT_SIGNED_IN_TITLE,
    NOT_SIGNED_IN_HINT, OUT_OF_ORDER_TITLE, OUT_OF_ORDER_HINT, DIGITS, ELLIPSIS, COMPLAINT_PHONE,
    QUEUE_OFFLINE, DISPENSER_TITLE, WAITING_LABEL, PEOPLE_UNIT, SURGE_LABEL, YOUR_NUMBER_LABEL,
    AHEAD_LABEL, ESTIMATE_LABEL, MINUTES_UNIT, TAKE_TICKET_HINT, DISPENSER_STOPPED_TITLE,
    TICKET_VOIDED_LABEL, CLOSED_FOR_TODAY_TITLE, CLOSED_KEY_LABEL, STILL_OPEN_LABEL, "、",
    COUNTERS_CLOSED_LABEL, AFTER_HOURS_LABEL, COME_BACK_HINT, PRESS_OPEN_KEY_HINT,
)

Color = tuple[int, int, int]
BACKGROUND: Color = (10, 26, 52)          # deep navy
BAND: Color = (22, 46, 86)                # header / footer bands
OUT_OF_ORDER_BACKGROUND: Color = (86, 14, 14)
OUT_OF_ORDER_BAND: Color = (60, 8, 8)
WHITE: Color = (255, 255, 255)
YELLOW: Color = (255, 214, 10)
SOFT_WHITE: Color = (214, 226, 242)       # secondary text, still > 10:1 on the navy
DARK_TEXT: Color = (12, 18, 30)
REASON_BLOCK: Color = (232, 238, 247)
MORE_BLOCK: Color = YELLOW                # 更多原因: not a reason, the way to the next page
CLOSED_BLOCK: Color = (62, 78, 106)       # a key that takes nothing today: dimmed, still legible
EMPTY_SLOT: Color = (40, 62, 100)
PLACEHOLDER_BACK: Color = (44, 70, 112)
PLACEHOLDER_FIGURE: Color = (128, 152, 188)

LEVEL_COLORS: dict[int, Color] = {
    5: (0, 100, 45),      # deep green
    4: (76, 175, 80),     # green
    3: (255, 193, 7),     # amber
    2: (245, 124, 0),     # orange
    1: (198, 40, 40),     # red
}

# Frames kept for states that come back, in bytes of pixels: 5 frames at 800x480, 3 at 1024x600.
_FRAME_CACHE_BYTES = 8 * 1024 * 1024
# A countdown's opening frame comes back with every transaction (the prompt at 20 s, the reasons
# at 15 s) and is kept; its later seconds never come back, and caching them would only push the
# frames worth keeping (the thanks screen a press leads to) out of the cache.
_COUNTDOWN_VIEWS = (RatingPrompt, ReasonPrompt)


def screen_strings() -> set[str]:
    """Every fixed string the screens can draw; dynamic text (names, reasons) comes on top."""
    return {*_FIXED_STRINGS, *LEVEL_LABELS.values(), *PAUSE_REASON_LABELS.values(),
            *PRINTER_PROBLEM_LABELS.values()}


def _luminance(color: Color) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(v) for v in color[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: Color, b: Color) -> float:
    """WCAG contrast ratio, 1 (none) to 21 (black on white)."""
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def text_color_on(background: Color) -> Color:
    return max((WHITE, DARK_TEXT), key=lambda color: contrast_ratio(color, background))


@dataclass(frozen=True)
class PlacedText:
    """One line of text as drawn: `rect` is where it landed, `box` where it was meant to go,
    `background` the colour it was blended onto."""
    text: str
    rect: pygame.Rect
    size: int
    box: pygame.Rect
    background: Color


class Renderer:
    """Draws views for one screen size. Returned surfaces are shared: blit them, do not draw
    on them. A countdown's ticks are drawn on one scratch surface, so such a frame holds only
    until the next tick is rendered."""

    def __init__(self, size: tuple[int, int], font_path: Path | None = None,
                 font_index: int | None = None) -> None:
        if font_path is None:
            font_path, font_index = find_cjk_font()
        elif font_index is None:
            font_index = pick_face_index(Path(font_path))
        self.size = (int(size[0]), int(size[1]))
        self._text_painter = TextPainter(Path(font_path), font_index)
        width, height = self.size
        self._width, self._height = width, height
        self._margin = max(6, round(height * 0.03))
        self._header_height = round(height * 0.15)
        self._footer_height = round(height * 0.13)
        self._min_text = max(14, round(height * 0.045))
        self._frames: OrderedDict[View, tuple[pygame.Surface, tuple[PlacedText, ...]]] = \
            OrderedDict()
        self._frame_cache_entries = max(2, _FRAME_CACHE_BYTES // (width * height * 4))
        # One surface for all countdown ticks: with a fresh 1-2 MB surface for each, one would be
        # allocated, faulted in and unmapped again every second.
        self._scratch: pygame.Surface | None = None
        self._previous_view: object = None
        self._photos: dict[tuple[str, int, int], pygame.Surface | None] = {}
        self._placing: list[PlacedText] = []
        self._ground: Color = BACKGROUND   # the colour under the text drawn without `on`
        self.placed_text: tuple[PlacedText, ...] = ()

    # -- public -----------------------------------------------------------------------------

    def render(self, view: View) -> pygame.Surface:
        previous, self._previous_view = self._previous_view, view
        cached = self._frames.get(view)
        if cached is not None:
            self._frames.move_to_end(view)
            surface, self.placed_text = cached
            return surface
        keep = not (isinstance(view, _COUNTDOWN_VIEWS) and type(view) is type(previous))
        if keep:
            surface = pygame.Surface(self.size, 0, 32)
        else:
            if self._scratch is None:
                self._scratch = pygame.Surface(self.size, 0, 32)
            surface = self._scratch
        self._placing = []
        match view:
            case NotSignedIn():
                self._draw_not_signed_in(surface, view)
            case Idle():
                self._draw_idle(surface, view)
            case RatingPrompt():
                self._draw_rating_prompt(surface, view)
            case ReasonPrompt():
                self._draw_reason_prompt(surface, view)
            case Thanks():
                self._draw_thanks(surface, view)
            case Paused():
                self._draw_paused(surface, view)
            case OutOfOrder():
                self._draw_out_of_order(surface, view)
            case Dispenser():
                self._draw_dispenser(surface, view)
            case _:
                raise TypeError(f"no screen for {type(view).__name__}")
        self.placed_text = tuple(self._placing)
        if keep:
            self._frames[view] = (surface, self.placed_text)
            if len(self._frames) > self._frame_cache_entries:
                self._frames.popitem(last=False)
        return surface

    def cached_frames(self) -> int:
        return len(self._frames)

    # -- building blocks --------------------------------------------------------------------

    def _px(self, share_of_height: float) -> int:
        return max(1, round(self._height * share_of_height))

    def _fill(self, surface: pygame.Surface, color: Color) -> None:
        surface.fill(color)
        self._ground = color

    def _text(self, surface: pygame.Surface, text: str, box: pygame.Rect, max_size: int,
              color: Color, *, max_lines: int = 1, align: str = "center",
              on: Color | None = None) -> int:
        """Draw text shrunk to fit `box` on the solid colour `on` (the screen's ground unless
        given); answer the size used."""
        if not text or box.width <= 0 or box.height <= 0:
            return 0
        fitted = self._text_painter.fit(text, box.width, box.height, max_size,
                                        min(self._min_text, max_size), max_lines)
        background = on or self._ground
        rects = self._text_painter.draw_fitted(surface, fitted, box, color, background, align)
        self._placing.extend(PlacedText(line, rect, fitted.size, box, background)
                             for line, rect in zip(fitted.lines, rects, strict=True))
        return fitted.size

    def _text_run(self, surface: pygame.Surface, pieces: list[tuple[str, Color]],
                  box: pygame.Rect, max_size: int, align: str = "center",
                  on: Color | None = None) -> None:
        """One line made of differently coloured pieces, shrunk together to fit `box`."""
        pieces = [(text, color) for text, color in pieces if text]
        whole = "".join(text for text, _ in pieces)
        if not whole:
            return
        painter = self._text_painter
        fitted = painter.fit(whole, box.width, box.height, max_size,
                             min(self._min_text, max_size))
        if fitted.lines != (whole,):  # even the smallest size is too wide: one colour, cut
            self._text(surface, whole, box, max_size, pieces[0][1], align=align, on=on)
            return
        size = fitted.size
        total = painter.width(whole, size)
        left = {"left": box.left, "right": box.right - total}.get(
            align, box.left + (box.width - total) // 2)
        top = box.top + (box.height - painter.line_height(size)) // 2
        for text, color in pieces:
            background = on or self._ground
            rect = painter.draw_line(surface, text, size, color, background, left, top)
            self._placing.append(PlacedText(text, rect, size, box, background))
            left += painter.width(text, size)

    def _band(self, surface: pygame.Surface, top: int, height: int, color: Color
              ) -> pygame.Rect:
        band = pygame.Rect(0, top, self._width, height)
        surface.fill(color, band)
        return band.inflate(-2 * self._margin, 0)

    def _header(self, surface: pygame.Surface, left: list[tuple[str, Color]],
                right: list[tuple[str, Color]] | None = None, band_color: Color = BAND) -> None:
        inner = self._band(surface, 0, self._header_height, band_color)
        size = self._px(0.085)
        if right:
            split = round(inner.width * 0.6)
            left_box = pygame.Rect(inner.left, inner.top, split - self._margin, inner.height)
            right_box = pygame.Rect(inner.left + split, inner.top, inner.width - split,
                                    inner.height)
            self._text_run(surface, right, right_box, size, align="right", on=band_color)
        else:
            left_box = inner
        self._text_run(surface, left, left_box, size, align="left", on=band_color)

    def _footer(self, surface: pygame.Surface, complaint_phone: str) -> None:
        inner = self._band(surface, self._height - self._footer_height, self._footer_height,
                           BAND)
        self._text_run(surface, [(COMPLAINT_LABEL + " ", SOFT_WHITE), (complaint_phone, YELLOW)],
                       inner, self._px(0.075), on=BAND)

    def _body(self, with_footer: bool) -> pygame.Rect:
        top = self._header_height + self._margin
        bottom = self._height - self._margin - (self._footer_height if with_footer else 0)
        return pygame.Rect(self._margin, top, self._width - 2 * self._margin, bottom - top)

    @staticmethod
    def _rows(area: pygame.Rect, shares: list[float]) -> list[pygame.Rect]:
        """Split `area` top to bottom in the given proportions."""
        total = sum(shares)
        rows, top = [], area.top
        for share in shares:
            height = round(area.height * share / total)
            rows.append(pygame.Rect(area.left, top, area.width, height))
            top += height
        return rows

    def _counter(self, counter_id: str) -> list[tuple[str, Color]]:
        return [(f"{counter_id}{COUNTER_SUFFIX}", YELLOW)] if counter_id else []

    def _seconds_left(self, seconds: int) -> list[tuple[str, Color]]:
        return [(f"{SECONDS_LEFT_LABEL} ", SOFT_WHITE), (str(max(0, seconds)), YELLOW),
                (f" {SECONDS_UNIT}", SOFT_WHITE)]

    # -- staff photo ------------------------------------------------------------------------

    def _photo(self, path: str, width: int, height: int) -> pygame.Surface | None:
        key = (path, width, height)
        if key not in self._photos:
            self._photos[key] = self._load_photo(path, width, height)
        return self._photos[key]

    @staticmethod
    def _load_photo(path: str, width: int, height: int) -> pygame.Surface | None:
        try:
            loaded = pygame.image.load(path)
        except (pygame.error, OSError, ValueError) as error:
            log.warning("staff photo %s cannot be shown (%s); showing a placeholder", path, error)
            return None
        image = pygame.Surface(loaded.get_size(), 0, 32)  # smoothscale needs 24/32-bit pixels
        image.fill(PLACEHOLDER_BACK)
        image.blit(loaded, (0, 0))
        # Cover the frame and crop the overflow, centred: no bars, no distortion.
        scale = max(width / image.get_width(), height / image.get_height())
        scaled = pygame.transform.smoothscale(
            image, (max(width, round(image.get_width() * scale)),
                    max(height, round(image.get_height() * scale))))
        crop = pygame.Rect(0, 0, width, height)
        crop.center = scaled.get_rect().center
        return scaled.subsurface(crop).copy()

    def _draw_photo(self, surface: pygame.Surface, card: StaffCard, frame: pygame.Rect) -> None:
        photo = self._photo(card.photo, frame.width, frame.height) if card.photo else None
        if photo is not None:
            surface.blit(photo, frame)
        else:
            self._draw_silhouette(surface, frame)
        pygame.draw.rect(surface, SOFT_WHITE, frame, width=max(2, self._px(0.005)))

    @staticmethod
    def _draw_silhouette(surface: pygame.Surface, frame: pygame.Rect) -> None:
        surface.fill(PLACEHOLDER_BACK, frame)
        head_radius = round(frame.width * 0.2)
        head_center = (frame.centerx, frame.top + round(frame.height * 0.36))
        shoulders = pygame.Rect(0, 0, round(frame.width * 0.8), round(frame.height * 0.5))
        neck = round(frame.height * 0.04)
        shoulders.midtop = (frame.centerx, head_center[1] + head_radius + neck)
        previous_clip = surface.get_clip()
        surface.set_clip(frame)
        pygame.draw.ellipse(surface, PLACEHOLDER_FIGURE, shoulders)
        pygame.draw.circle(surface, PLACEHOLDER_FIGURE, head_center, head_radius)
        surface.set_clip(previous_clip)

    # -- key blocks -------------------------------------------------------------------------

    def _draw_key_blocks(self, surface: pygame.Surface, options: tuple[KeyOption, ...],
                         area: pygame.Rect, max_lines: int) -> None:
        """One block per physical key, left to right, so each label sits above its key; a key
        without an option leaves its slot empty rather than shifting the others."""
        slots = max([5, *(option.key for option in options)])
        gap = max(4, round(self._width * 0.018))
        width = (area.width - gap * (slots - 1)) // slots
        radius = max(4, round(width * 0.08))
        padding = max(3, round(width * 0.07))
        blocks = {option.key: pygame.Rect(area.left + (option.key - 1) * (width + gap), area.top,
                                          width, area.height) for option in options}
        for slot in range(1, slots + 1):
            if slot not in blocks:
                empty = pygame.Rect(area.left + (slot - 1) * (width + gap), area.top, width,
                                    area.height)
                pygame.draw.rect(surface, EMPTY_SLOT, empty, width=2, border_radius=radius)
        # One size for every label: a row of mixed sizes reads as mixed importance. A label
        # too long even for the smallest legible size is cut rather than shrinking the row.
        max_size = self._px(0.11)
        common = min((self._text_painter.fit(option.label, width - 2 * padding,
                                             area.height - 2 * padding, max_size, 1,
                                             max_lines).size
                      for option in options), default=max_size)
        common = min(max_size, max(common, self._min_text))
        for option in options:
            block = blocks[option.key]
            color = LEVEL_COLORS.get(option.level, REASON_BLOCK) if option.level else REASON_BLOCK
            if option.more:
                color = MORE_BLOCK
            elif not option.available:
                color = CLOSED_BLOCK
            pygame.draw.rect(surface, color, block, border_radius=radius)
            label_box = block.inflate(-2 * padding, -2 * padding)
            if option.more:   # an arrow under the label: this key turns the page
                arrow = self._draw_arrow(surface, label_box, text_color_on(color))
                label_box.height = arrow.top - label_box.top
            self._text(surface, option.label, label_box, common, text_color_on(color),
                       max_lines=max_lines, on=color)

    @staticmethod
    def _draw_arrow(surface: pygame.Surface, box: pygame.Rect, color: Color) -> pygame.Rect:
        """A right arrow at the foot of `box`; answers the area it took."""
        size = max(8, round(box.width * 0.22))
        area = pygame.Rect(box.left, box.bottom - 2 * size, box.width, 2 * size)
        tip = (box.centerx + size, area.centery)
        pygame.draw.polygon(surface, color, [tip, (tip[0] - size, tip[1] - size * 0.75),
                                             (tip[0] - size, tip[1] + size * 0.75)])
        shaft = pygame.Rect(0, 0, size + 1, max(3, round(size * 0.45)))
        shaft.midright = (tip[0] - size + 1, tip[1])
        surface.fill(color, shaft)
        return area

    # -- screens ----------------------------------------------------------------------------

    def _draw_not_signed_in(self, surface: pygame.Surface, view: NotSignedIn) -> None:
        self._fill(surface, BACKGROUND)
        self._header(surface, self._counter(view.counter_id))
        title, hint = self._rows(self._body(with_footer=True), [0.6, 0.4])
        self._text(surface, NOT_SIGNED_IN_TITLE, title, self._px(0.16), WHITE)
        self._text(surface, NOT_SIGNED_IN_HINT, hint, self._px(0.09), SOFT_WHITE)
        self._footer(surface, view.complaint_phone)

    def _draw_idle(self, surface: pygame.Surface, view: Idle) -> None:
        card = view.card
        self._fill(surface, BACKGROUND)
        serving = ([(f"{SERVING_LABEL} ", SOFT_WHITE), (card.serving_ticket, YELLOW)]
                   if card.serving_ticket else None)
        if card.queue_offline:  # staff must see at once that call-next cannot work now
            serving = [(QUEUE_OFFLINE, YELLOW)]
        self._header(surface, self._counter(card.counter_id), serving)
        body = self._body(with_footer=True)
        photo = pygame.Rect(body.left, body.top, round(body.height * 0.75), body.height)
        self._draw_photo(surface, card, photo)
        column = pygame.Rect(photo.right + 2 * self._margin, body.top,
                             body.right - photo.right - 2 * self._margin, body.height)
        name, staff_id, title, duties = self._rows(column, [0.32, 0.2, 0.18, 0.3])
        self._text(surface, card.name, name, self._px(0.15), WHITE, align="left")
        self._text_run(surface, [(f"{STAFF_ID_LABEL} ", SOFT_WHITE), (card.staff_id, YELLOW)],
                       staff_id, self._px(0.085), align="left")
        self._text(surface, card.title, title, self._px(0.075), WHITE, align="left")
        if card.duties:
            self._text(surface, DUTIES_LABEL + card.duties, duties, self._px(0.062), SOFT_WHITE,
                       max_lines=2, align="left")
        self._footer(surface, card.complaint_phone)

    def _prompt_layout(self) -> tuple[pygame.Rect, pygame.Rect]:
        body = self._body(with_footer=False)
        title, blocks = self._rows(body, [0.26, 0.74])
        return title, blocks.inflate(0, -self._margin).move(0, self._margin // 2)

    def _draw_rating_prompt(self, surface: pygame.Surface, view: RatingPrompt) -> None:
        card = view.card
        self._fill(surface, BACKGROUND)
        staff = f"  {card.name}  {STAFF_ID_LABEL} {card.staff_id}"
        self._header(surface, [*self._counter(card.counter_id), (staff, WHITE)],
                     self._seconds_left(view.seconds_left))
        title, blocks = self._prompt_layout()
        self._text(surface, RATING_TITLE, title, self._px(0.11), WHITE)
        self._draw_key_blocks(surface, view.options, blocks, max_lines=2)

    def _draw_reason_prompt(self, surface: pygame.Surface, view: ReasonPrompt) -> None:
        self._fill(surface, BACKGROUND)
        right = self._seconds_left(view.seconds_left)
        if view.pages > 1:
            right = [(REASON_PAGE_LABEL.format(page=view.page, pages=view.pages) + "  ", YELLOW), *right]
        self._header(surface, [(THANKS_TITLE, WHITE)], right)
        title, blocks = self._prompt_layout()
        self._text(surface, REASON_TITLE, title, self._px(0.11), YELLOW)
        self._draw_key_blocks(surface, view.options, blocks, max_lines=3)

    def _draw_thanks(self, surface: pygame.Surface, view: Thanks) -> None:
        self._fill(surface, BACKGROUND)
        area = pygame.Rect(self._margin, self._margin, self._width - 2 * self._margin,
                           self._height - 2 * self._margin)
        _, title, choice, _ = self._rows(area, [0.1, 0.45, 0.3, 0.15])
        self._text(surface, THANKS_TITLE, title, self._px(0.19), YELLOW)
        label = LEVEL_LABELS.get(view.level)
        if label is not None:
            self._draw_choice(surface, label, LEVEL_COLORS[view.level], choice)

    def _draw_choice(self, surface: pygame.Surface, label: str, color: Color,
                     box: pygame.Rect) -> None:
        """"您的评价" and the chosen level in its key colour, centred as one line."""
        painter = self._text_painter
        caption = THANKS_CHOICE_LABEL + "："
        size = painter.fit(caption + label + "  ", box.width, round(box.height / 1.4),
                           self._px(0.1), 1).size
        padding = round(size * 0.5)
        gap = round(size * 0.25)
        pill_width = painter.width(label, size) + 2 * padding
        pill_height = round(painter.line_height(size) * 1.3)
        total = painter.width(caption, size) + gap + pill_width
        left = box.left + (box.width - total) // 2
        caption_box = pygame.Rect(left, box.top, painter.width(caption, size), box.height)
        self._text(surface, caption, caption_box, size, SOFT_WHITE)
        pill = pygame.Rect(caption_box.right + gap, 0, pill_width, pill_height)
        pill.centery = box.centery
        pygame.draw.rect(surface, color, pill, border_radius=pill_height // 2)
        self._text(surface, label, pill.inflate(-padding, 0), size, text_color_on(color),
                   on=color)

    def _draw_paused(self, surface: pygame.Surface, view: Paused) -> None:
        self._fill(surface, BACKGROUND)
        self._header(surface, self._counter(view.counter_id))
        title, reason, since = self._rows(self._body(with_footer=True), [0.5, 0.28, 0.22])
        self._text(surface, PAUSED_TITLE, title, self._px(0.2), YELLOW)
        self._text(surface, pause_reason_label(view.reason), reason, self._px(0.1), WHITE)
        self._text(surface, f"{PAUSED_SINCE_LABEL} {view.since}", since, self._px(0.075),
                   SOFT_WHITE)
        self._footer(surface, view.complaint_phone)

    def _draw_out_of_order(self, surface: pygame.Surface, view: OutOfOrder) -> None:
        self._fill(surface, OUT_OF_ORDER_BACKGROUND)
        if view.counter_id:
            self._header(surface, self._counter(view.counter_id), band_color=OUT_OF_ORDER_BAND)
        body = self._body(with_footer=False)
        title, cause, hint = self._rows(body, [0.42, 0.33, 0.25])
        self._text(surface, OUT_OF_ORDER_TITLE, title, self._px(0.14), YELLOW, max_lines=2)
        self._text(surface, view.cause, cause, self._px(0.09), WHITE, max_lines=2)
        self._text(surface, OUT_OF_ORDER_HINT, hint, self._px(0.1), WHITE)

    def _draw_dispenser(self, surface: pygame.Surface, view: Dispenser) -> None:
        self._fill(surface, BACKGROUND)
        self._header(surface, [(view.centre_name, WHITE)],
                     [(SURGE_LABEL, YELLOW)] if view.surge else None)
        body = self._body(with_footer=True)
        if view.issued is not None:
            issued = view.issued
            caption, number, wait, hint = self._rows(body, [0.18, 0.42, 0.2, 0.2])
            self._text(surface, f"{YOUR_NUMBER_LABEL} {issued.category_name}", caption,
                       self._px(0.085), SOFT_WHITE)
            self._text(surface, issued.ticket, number, self._px(0.3), YELLOW)
            self._text_run(surface, [(f"{AHEAD_LABEL} ", SOFT_WHITE), (str(issued.waiting_ahead), YELLOW),
                                     (f" {PEOPLE_UNIT}  {ESTIMATE_LABEL} ", SOFT_WHITE),
                                     (str(max(1, issued.wait_min) if issued.waiting_ahead else 0), YELLOW),
                                     (f" {MINUTES_UNIT}", SOFT_WHITE)], wait, self._px(0.075))
            self._text(surface, TAKE_TICKET_HINT, hint, self._px(0.075), WHITE)
        elif view.stopped is not None:
            stopped = view.stopped
            title, detail, hint = self._rows(body, [0.42, 0.33, 0.25])
            self._text(surface, f"{stopped.category_name or ''}{CLOSED_FOR_TODAY_TITLE}", title,
                       self._px(0.14), YELLOW)
            if stopped.open_names:
                self._text_run(surface, [(STILL_OPEN_LABEL, SOFT_WHITE), ("、".join(stopped.open_names), WHITE)],
                               detail, self._px(0.085))
            else:
                self._text(surface, AFTER_HOURS_LABEL if stopped.after_hours else COUNTERS_CLOSED_LABEL,
                           detail, self._px(0.09), WHITE)
            self._text(surface, PRESS_OPEN_KEY_HINT if stopped.open_names else COME_BACK_HINT, hint,
                       self._px(0.075), SOFT_WHITE)
        elif view.problem is not None:
            title, cause, hint = self._rows(body, [0.42, 0.33, 0.25])
            self._text(surface, DISPENSER_STOPPED_TITLE, title, self._px(0.16), YELLOW)
            self._text(surface, view.problem, cause, self._px(0.09), WHITE, max_lines=2)
            self._text(surface, OUT_OF_ORDER_HINT, hint, self._px(0.08), SOFT_WHITE)
        else:
            title, blocks = self._rows(body, [0.22, 0.78])
            self._text(surface, DISPENSER_TITLE, title, self._px(0.09), WHITE)
            # Two lines per key: the category, then how many wait for it.
            options = tuple(
                KeyOption(option.key, f"{option.name}\n{WAITING_LABEL}{option.waiting}{PEOPLE_UNIT}")
                if option.open else KeyOption(option.key, f"{option.name}\n{CLOSED_KEY_LABEL}", available=False)
                for option in view.options)
            self._draw_key_blocks(surface, options, blocks.inflate(0, -self._margin), max_lines=2)
        self._footer(surface, view.complaint_phone)


def main(argv: list[str] | None = None) -> int:
    from kiosk.screens.samples import SCREEN_SIZES, sample_views

    parser = argparse.ArgumentParser(prog="python -m kiosk.screens",
                                     description="Draw every screen at every supported size.")
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    parser.add_argument("--font", type=Path, default=None, help="CJK font file")
    parser.add_argument("--font-index", type=int, default=None, help="face index in the file")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for width, height in SCREEN_SIZES:
        renderer = Renderer((width, height), args.font, args.font_index)
        for name, view in sample_views().items():
            target = args.out / f"{name}-{width}x{height}.png"
            pygame.image.save(renderer.render(view), str(target))
            print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
