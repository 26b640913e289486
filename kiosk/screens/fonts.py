"""Chinese text for the screens: finding a CJK font, checking its coverage, and setting lines
that fit a box (balanced line breaks, shrink-to-fit, an ellipsis as the last resort), with the
rendered lines cached because the Pi redraws on every key press."""
from __future__ import annotations

import itertools
import shutil
import subprocess
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pygame
import pygame.freetype

ELLIPSIS = "…"
# Line box in ems. CJK ink sits between 0.88 em above and 0.12 em below the baseline and Latin
# descenders reach 0.25 em below, so a 1.25 em box with the baseline at 0.98 em holds both and
# looks vertically centred for Chinese.
LINE_HEIGHT_EM = 1.25
BASELINE_EM = 0.98
# A line may not start with these (Chinese typesetting rule), and breaking after them is natural.
_CLOSING_PUNCTUATION = set("、，。：；！？）》」』】,.;:!?)")
_BREAK_AFTER = _CLOSING_PUNCTUATION | {" "}
# Chinese has no spaces, so line breaks need some idea of words. A full segmenter is a large
# dictionary; these are the words the labels of this service actually use (levels, 差评 reasons,
# duties), and "不" almost always starts a word (不满意, 不到位, 不熟练, 不耐烦).
_KEEP_TOGETHER = ("一次性", "非常", "满意", "告知", "态度", "时间", "业务", "服务", "效率",
                  "材料", "政策", "窗口", "工作人员", "缴存", "提取", "贷款", "咨询", "办理")
_BREAK_BEFORE = {"不"}
_REFERENCE_SIZE = 100
_TEXT_CACHE_ENTRIES = 256

# Checked when fontconfig is not installed (Raspberry Pi OS Lite may lack fc-list).
_KNOWN_CJK_FONTS = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
)


class FontNotFoundError(RuntimeError):
    """No font that can draw Simplified Chinese is installed."""


def _font_preference(family: str, style: str) -> int:
    # Simplified Chinese glyph forms first, then a sans face (signage), then bold strokes, which
    # stay legible for elderly eyes from a step back.
    score = 0
    if any(tag in family for tag in (" SC", "CN", "GB", "Simplified")):
        score += 8
    if "Sans" in family or "Hei" in family:
        score += 4
    if "Mono" in family:
        score -= 6
    if "Bold" in style:
        score += 2
    return score


def _fontconfig_candidates() -> list[tuple[int, Path, int]]:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        listing = subprocess.run(
            [fc_list, ":lang=zh-cn", "-f", "%{file}\t%{index}\t%{family}\t%{style}\n"],
            capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    candidates = []
    for row in listing.splitlines():
        parts = row.split("\t")
        if len(parts) != 4 or not parts[1].isdigit():
            continue
        file, index, family, style = parts
        candidates.append((_font_preference(family, style), Path(file), int(index)))
    return candidates


def find_cjk_font() -> tuple[Path, int]:
    """The best installed font for Simplified Chinese: (file, face index inside a .ttc)."""
    candidates = _fontconfig_candidates()
    if candidates:
        # Highest preference; the path breaks ties so the choice is the same on every unit.
        _, path, index = max(candidates, key=lambda c: (c[0], str(c[1]), -c[2]))
        return path, index
    for file, index in _KNOWN_CJK_FONTS:
        if Path(file).is_file():
            return Path(file), index
    raise FontNotFoundError("no font that can draw Simplified Chinese is installed "
                            "(apt-get install fonts-noto-cjk), and none is set in the config")


def pick_face_index(font_path: Path) -> int:
    """The Simplified Chinese face of a font collection (.ttc): a configured font file given
    without an index must not fall back to face 0, which is the Japanese one in Noto CJK."""
    best_score, best_index = None, 0
    for index in range(64):
        try:
            face = load_font(Path(font_path), index)
        except (OSError, pygame.error):  # past the last face
            break
        score = _font_preference(face.name, "")
        if best_score is None or score > best_score:
            best_score, best_index = score, index
    return best_index


def load_font(font_path: Path, font_index: int) -> pygame.freetype.Font:
    if not pygame.freetype.get_init():
        pygame.freetype.init()
    # ucs4: characters outside the BMP are one character, not a surrogate pair.
    return pygame.freetype.Font(str(font_path), size=_REFERENCE_SIZE, font_index=font_index,
                                ucs4=True)


def missing_glyphs(texts: Iterable[str], font_path: Path | None = None,
                   font_index: int | None = None) -> set[str]:
    """The characters of `texts` the font has no glyph for (whitespace is never missing)."""
    if font_path is None:
        font_path, font_index = find_cjk_font()
    elif font_index is None:
        font_index = pick_face_index(Path(font_path))
    font = load_font(Path(font_path), font_index)
    characters = {ch for text in texts for ch in text if not ch.isspace()}
    # get_metrics answers None for each character the face cannot draw.
    ordered = sorted(characters)
    metrics = font.get_metrics("".join(ordered)) if ordered else []
    return {ch for ch, metric in zip(ordered, metrics, strict=True) if metric is None}


@dataclass(frozen=True)
class FittedText:
    size: int
    lines: tuple[str, ...]


class TextPainter:
    """One font face at any size; rendered lines, widths and fits are cached."""

    def __init__(self, font_path: Path, font_index: int) -> None:
        self._font = load_font(font_path, font_index)
        self._surfaces: OrderedDict[tuple[str, int, tuple[int, ...], tuple[int, ...]],
                                    tuple[pygame.Surface, pygame.Rect]] = OrderedDict()
        self._widths: dict[tuple[str, int], int] = {}
        self._fits: dict[tuple[object, ...], FittedText] = {}

    @staticmethod
    def line_height(size: int) -> int:
        return round(size * LINE_HEIGHT_EM)

    def width(self, text: str, size: int) -> int:
        key = (text, size)
        width = self._widths.get(key)
        if width is None:
            rect = self._font.get_rect(text, size=size) if text else pygame.Rect(0, 0, 0, 0)
            width = self._widths[key] = max(0, rect.x + rect.width)
        return width

    def _rendered(self, text: str, size: int, color: tuple[int, ...],
                  background: tuple[int, ...]) -> tuple[pygame.Surface, pygame.Rect]:
        key = (text, size, color, background)
        hit = self._surfaces.get(key)
        if hit is not None:
            self._surfaces.move_to_end(key)
            return hit
        glyphs, ink = self._font.render(text, color, size=size)
        # Blended once onto the known background and kept opaque: blitting an opaque surface
        # is a copy, a per-pixel-alpha one costs ~100x more (ms per title on a Pi).
        opaque = pygame.Surface(glyphs.get_size(), 0, 32)
        opaque.fill(background)
        opaque.blit(glyphs, (0, 0))
        hit = self._surfaces[key] = (opaque, ink)
        if len(self._surfaces) > _TEXT_CACHE_ENTRIES:
            self._surfaces.popitem(last=False)
        return hit

    def draw_line(self, target: pygame.Surface, text: str, size: int, color: tuple[int, ...],
                  background: tuple[int, ...], left: int, top: int) -> pygame.Rect:
        """Draw one line on a solid `background` with its line box starting at (left, top);
        answer the box it covers."""
        box = pygame.Rect(left, top, self.width(text, size), self.line_height(size))
        if not text:
            return box
        surface, ink = self._rendered(text, size, tuple(color), tuple(background))
        baseline = top + round(size * BASELINE_EM)
        ink_box = target.blit(surface, (left + ink.x, baseline - ink.y))
        return box.union(ink_box) if ink_box.width else box

    def fit(self, text: str, max_width: int, max_height: int, max_size: int, min_size: int,
            max_lines: int = 1) -> FittedText:
        """The largest size up to max_size at which `text` fits the box in at most max_lines
        balanced lines (fewest lines when several reach max_size). Below min_size the text is
        cut with an ellipsis instead of shrinking further."""
        key = (text, max_width, max_height, max_size, min_size, max_lines)
        fitted = self._fits.get(key)
        if fitted is None:
            fitted = self._fits[key] = self._fit(text, max_width, max_height, max_size,
                                                 min_size, max_lines)
        return fitted

    def _fit(self, text: str, max_width: int, max_height: int, max_size: int, min_size: int,
             max_lines: int) -> FittedText:
        best = FittedText(0, (text,))
        for count in range(1, max_lines + 1):
            lines = self._balanced_lines(text, count)
            if lines is None:
                continue
            size = self._largest_size(lines, max_width, max_height, max_size)
            if size > best.size:
                best = FittedText(size, lines)
            if size >= max_size:
                break
        if best.size >= min_size:
            return best
        return self._truncated(text, max_width, max_height, min_size, max_lines)

    def _largest_size(self, lines: tuple[str, ...], max_width: int, max_height: int,
                      max_size: int) -> int:
        widest = max(self.width(line, _REFERENCE_SIZE) for line in lines)
        size = min(max_size, int(max_height / (len(lines) * LINE_HEIGHT_EM)),
                   int(max_width * _REFERENCE_SIZE / widest) if widest else max_size)
        # Hinting makes width only roughly proportional to size: step down until it really fits.
        while size > 1 and (max(self.width(line, size) for line in lines) > max_width
                            or len(lines) * self.line_height(size) > max_height):
            size -= 1
        return max(size, 1)

    def _balanced_lines(self, text: str, count: int) -> tuple[str, ...] | None:
        if "\n" in text:  # the config author chose the breaks
            lines = tuple(part.strip() for part in text.split("\n"))
            return lines if len(lines) == count else None
        if count == 1:
            return (text,)
        allowed = self._break_positions(text)
        # Sums of advances stand in for measured widths while choosing breaks: Chinese has no
        # kerning, and measuring every candidate line would take seconds on a Pi for long text.
        advances = [metric[4] if metric else _REFERENCE_SIZE
                    for metric in self._font.get_metrics(text, size=_REFERENCE_SIZE)]
        offsets = list(itertools.accumulate(advances, initial=0.0))
        best_score, best_breaks = None, None
        for breaks in itertools.combinations(allowed, count - 1):
            bounds = (0, *breaks, len(text))
            widths = [offsets[b] - offsets[a] for a, b in itertools.pairwise(bounds)]
            natural = sum(1 for b in breaks
                          if text[b - 1] in _BREAK_AFTER or text[b] in _BREAK_BEFORE)
            # Narrowest widest line wins; a natural break is worth half an em; on a tie the
            # shorter first line (非常 / 不满意 rather than 非常不 / 满意).
            score = (max(widths) - natural * _REFERENCE_SIZE / 2, widths[0])
            if best_score is None or score < best_score:
                best_score, best_breaks = score, breaks
        if best_breaks is None:
            return None
        bounds = (0, *best_breaks, len(text))
        lines = tuple(text[a:b].strip() for a, b in itertools.pairwise(bounds))
        return lines if all(lines) else None

    @classmethod
    def _break_positions(cls, text: str) -> list[int]:
        """Indexes a line may start at; inside a known word only when nothing else is left."""
        legal = [i for i in range(1, len(text)) if cls._can_break(text, i)]
        inside_words = {start + offset
                        for word in _KEEP_TOGETHER
                        for start in cls._occurrences(text, word)
                        for offset in range(1, len(word))}
        between_words = [i for i in legal if i not in inside_words]
        return between_words or legal

    @staticmethod
    def _occurrences(text: str, word: str) -> list[int]:
        found, start = [], text.find(word)
        while start != -1:
            found.append(start)
            start = text.find(word, start + 1)
        return found

    @staticmethod
    def _can_break(text: str, index: int) -> bool:
        before, after = text[index - 1], text[index]
        if after in _CLOSING_PUNCTUATION:
            return False
        # Keep ASCII runs such as ticket numbers, staff IDs and times whole.
        return not (before.isascii() and after.isascii() and before.isalnum() and after.isalnum())

    def _truncated(self, text: str, max_width: int, max_height: int, min_size: int,
                   max_lines: int) -> FittedText:
        size = max(1, min(min_size, int(max_height / LINE_HEIGHT_EM)))
        room = max(1, min(max_lines, max_height // self.line_height(size)))
        lines: list[str] = []
        rest = text.replace("\n", "")
        while rest and len(lines) < room:
            last = len(lines) == room - 1
            take = len(rest)
            while take > 1 and self.width(rest[:take] + (ELLIPSIS if last and take < len(rest)
                                                          else ""), size) > max_width:
                take -= 1
            line = rest[:take]
            rest = rest[take:].lstrip()
            if last and rest:
                line += ELLIPSIS
            lines.append(line)
        return FittedText(size, tuple(lines))

    def draw_fitted(self, target: pygame.Surface, fitted: FittedText, box: pygame.Rect,
                    color: tuple[int, ...], background: tuple[int, ...],
                    align: str = "center", valign: str = "center") -> list[pygame.Rect]:
        """Draw fitted lines inside `box` on a solid `background`; answer each line's box."""
        line_height = self.line_height(fitted.size)
        total = line_height * len(fitted.lines)
        top = box.top if valign == "top" else box.top + (box.height - total) // 2
        drawn = []
        for number, line in enumerate(fitted.lines):
            width = self.width(line, fitted.size)
            if align == "left":
                left = box.left
            elif align == "right":
                left = box.right - width
            else:
                left = box.left + (box.width - width) // 2
            drawn.append(self.draw_line(target, line, fitted.size, color, background, left,
                                        top + number * line_height))
        return drawn
