import dataclasses
import io
import logging
from pathlib import Path

import pygame
import pygame.freetype
import pytest

from drivers.display import encode_png
from kiosk.screens import fonts
from kiosk.screens import renderer as screens
from kiosk.screens.samples import (SAMPLE_CARD, SAMPLE_REASONS, SCREEN_SIZES, rating_options,
                                  sample_views)
from kiosk.screens.renderer import (LEVEL_COLORS, Renderer, contrast_ratio, find_cjk_font,
                           missing_glyphs, screen_strings, text_color_on)
from kiosk.screens.views import (LEVEL_LABELS, Idle, KeyOption, NotSignedIn, OutOfOrder, Paused,
                         RatingPrompt, ReasonPrompt, StaffCard, Thanks)

LONG_CARD = StaffCard(
    staff_id="100000000001",
    name="欧阳娜娜娜娜娜娜娜娜娜娜娜娜娜娜",
    counter_id="12",
    title="综合业务岗（缴存、提取、贷款、咨询）",
    duties="住房公积金缴存登记、变更、封存、启封，提取业务受理审核，贷款咨询及一次性告知，"
           "政策解答与投诉接待",
    serving_ticket="A1234",
)

STRESS_VIEWS = {
    "long_idle": Idle(card=LONG_CARD),
    "long_rating": RatingPrompt(card=LONG_CARD, options=rating_options((1, 2, 3, 4, 5)),
                                seconds_left=600),
    "long_reasons": ReasonPrompt(
        options=(KeyOption(1, "等待时间过长且无人引导"), KeyOption(2, "一次性告知不到位"),
                 KeyOption(5, "其他")),
        seconds_left=3),
    "free_text_pause": Paused(counter_id="12", reason="上级检查与业务培训临时安排",
                              since="23:59"),
    "long_cause": OutOfOrder(cause="数据库写入失败：磁盘空间不足，请技术人员检查存储卡与日志文件"),
    "unknown_level": Thanks(level=9),
    "no_counter": NotSignedIn(counter_id=""),
}

ALL_VIEWS = {**sample_views(), **STRESS_VIEWS}


@pytest.fixture(scope="module")
def font():
    return find_cjk_font()


@pytest.fixture(scope="module")
def renderers(font):
    return {size: Renderer(size, *font) for size in SCREEN_SIZES}


def pixels(surface: pygame.Surface) -> bytes:
    return pygame.image.tobytes(surface, "RGB")


def view_strings(view) -> set[str]:
    """Every string carried by a view, however deeply (names, reasons, numbers)."""
    found = set()
    for field in dataclasses.fields(view):
        value = getattr(view, field.name)
        values = value if isinstance(value, tuple) else (value,)
        for item in values:
            if dataclasses.is_dataclass(item):
                found |= view_strings(item)
            elif isinstance(item, (str, int)) and not isinstance(item, bool):
                found.add(str(item))
    return found


@pytest.mark.parametrize("name", sorted(ALL_VIEWS))
@pytest.mark.parametrize("size", SCREEN_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_view_fits_every_size(renderers, name, size):
    renderer = renderers[size]
    surface = renderer.render(ALL_VIEWS[name])
    assert surface.get_size() == size
    screen = surface.get_rect()
    placed = renderer.placed_text
    assert placed, "every screen says something"
    legible = min(14, round(size[1] * 0.045))
    for item in placed:
        assert screen.contains(item.rect), f"{item.text!r} leaves the screen"
        assert item.box.inflate(4, 4).contains(item.rect), f"{item.text!r} overflows its box"
        assert item.size >= legible, f"{item.text!r} is drawn at {item.size}px"
        # Text is blended onto a solid colour: it must be the colour really behind it, or the
        # line would sit in a visible box.
        inside_corner = (item.rect.left + 1, item.rect.top + 1)
        assert tuple(surface.get_at(inside_corner))[:3] == item.background, item.text
    for index, first in enumerate(placed):
        for second in placed[index + 1:]:
            assert not first.rect.inflate(-2, -2).colliderect(second.rect.inflate(-2, -2)), \
                f"{first.text!r} overlaps {second.text!r}"


@pytest.mark.parametrize("name", sorted(ALL_VIEWS))
def test_screen_strings_cover_every_fixed_text(renderers, name):
    """A character on screen comes from the view's own data or from screen_strings(), so the
    selftest's glyph check really covers everything a screen can draw."""
    renderer = renderers[(800, 480)]
    view = ALL_VIEWS[name]
    renderer.render(view)
    allowed = set("".join(screen_strings()) + "".join(view_strings(view)) + " ")
    drawn = set("".join(item.text for item in renderer.placed_text))
    assert drawn - allowed == set()


def test_font_covers_fixed_and_sample_strings(font):
    sample_text = {SAMPLE_CARD.name, SAMPLE_CARD.title, SAMPLE_CARD.duties, *SAMPLE_REASONS}
    for view in ALL_VIEWS.values():
        sample_text |= view_strings(view)
    assert missing_glyphs(screen_strings() | sample_text, *font) == set()


def test_screen_strings_include_labels():
    strings = screen_strings()
    assert set(LEVEL_LABELS.values()) <= strings
    assert {"暂时离开", "开会", "结束营业", "12329", "请您对本次服务进行评价", "感谢您的评价",
            "暂停服务", "请联系工作人员"} <= strings


def test_missing_glyphs_finds_what_a_latin_font_lacks():
    latin_font = Path(pygame.freetype.get_default_font())
    if not latin_font.is_absolute():
        latin_font = Path(pygame.__file__).parent / latin_font
    assert missing_glyphs(["满意 OK", "12329"], latin_font, 0) == {"满", "意"}


def test_missing_glyphs_finds_emoji_missing_from_cjk_font(font):
    assert missing_glyphs(["张\U0001F600敏"], *font) == {"\U0001F600"}


def test_simplified_chinese_face_is_chosen(font):
    path, index = font
    assert path.is_file()
    face = pygame.freetype.Font(str(path), size=12, font_index=index)
    if "Noto" in face.name:
        assert face.name.endswith(" SC")


def test_font_file_without_index_uses_its_simplified_chinese_face(font):
    path, index = font
    assert fonts.pick_face_index(path) == index
    assert missing_glyphs(["满意"], path) == set()


def test_no_cjk_font_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(fonts, "_fontconfig_candidates", lambda: [])
    monkeypatch.setattr(fonts, "_KNOWN_CJK_FONTS", ())
    with pytest.raises(fonts.FontNotFoundError, match="fonts-noto-cjk"):
        find_cjk_font()


def test_png_round_trip(renderers):
    surface = renderers[(800, 480)].render(sample_views()["rating_prompt"])
    decoded = pygame.image.load(io.BytesIO(encode_png(surface)), "screen.png")
    assert decoded.get_size() == (800, 480)
    assert pygame.image.tobytes(decoded, "RGB") == pygame.image.tobytes(surface, "RGB")


@pytest.mark.parametrize("levels", [(5, 4, 3, 2, 1), (1, 2, 3, 4, 5)])
def test_rating_blocks_follow_the_keys_left_to_right(renderers, levels):
    renderer = renderers[(800, 480)]
    surface = renderer.render(RatingPrompt(card=SAMPLE_CARD, options=rating_options(levels),
                                           seconds_left=20))
    # The lines of one label share the box they were fitted into: that box is its block.
    blocks = {}
    for item in renderer.placed_text:
        if item.rect.top > renderer.size[1] * 0.3:
            blocks.setdefault(tuple(item.box), []).append(item)
    by_position = sorted(blocks.values(), key=lambda lines: lines[0].box.left)
    assert ["".join(line.text for line in lines) for lines in by_position] == \
        [LEVEL_LABELS[level] for level in levels]
    for level, lines in zip(levels, by_position, strict=True):
        behind = surface.get_at((lines[0].rect.centerx, lines[0].rect.top - 3))[:3]
        assert tuple(behind) == LEVEL_COLORS[level]


def test_level_colours_run_green_to_red_with_readable_text():
    assert LEVEL_COLORS[5][1] > LEVEL_COLORS[5][0] and LEVEL_COLORS[4][1] > LEVEL_COLORS[4][0]
    assert LEVEL_COLORS[1][0] > 2 * LEVEL_COLORS[1][1]
    for color in LEVEL_COLORS.values():
        assert contrast_ratio(text_color_on(color), color) >= 4.5


def test_reason_keys_without_option_leave_their_slot_empty(renderers):
    renderer = renderers[(800, 480)]
    renderer.render(ReasonPrompt(options=(KeyOption(1, "等待时间长"), KeyOption(5, "其他")),
                                 seconds_left=10))
    centers = {item.text: item.rect.centerx for item in renderer.placed_text}
    assert centers["其他"] > 800 * 0.8
    assert centers["等待"] < 800 * 0.2 or centers.get("等待时间长", 800) < 800 * 0.2


def close_to(color, expected, tolerance=4):
    return all(abs(a - b) <= tolerance for a, b in zip(tuple(color)[:3], expected, strict=True))


def test_staff_photo_is_drawn_and_a_bad_one_falls_back(tmp_path, font, caplog):
    photo = tmp_path / "1001.png"
    image = pygame.Surface((300, 400))
    image.fill((250, 0, 250))
    pygame.image.save(image, str(photo))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    renderer = Renderer((800, 480), *font)
    with_photo = renderer.render(Idle(card=dataclasses.replace(SAMPLE_CARD, photo=str(photo))))
    assert close_to(with_photo.get_at((100, 240)), (250, 0, 250))  # smoothscale rounds
    caplog.set_level(logging.WARNING)
    placeholder = renderer.render(Idle(card=dataclasses.replace(SAMPLE_CARD,
                                                                photo=str(broken))))
    assert not close_to(placeholder.get_at((100, 240)), (250, 0, 250))
    assert "broken.jpg" in caplog.text
    missing = renderer.render(Idle(card=dataclasses.replace(SAMPLE_CARD,
                                                            photo=str(tmp_path / "gone.png"))))
    assert pygame.image.tobytes(missing, "RGB") == pygame.image.tobytes(placeholder, "RGB")


def test_serving_ticket_appears_only_when_set(renderers):
    renderer = renderers[(800, 480)]
    renderer.render(Idle(card=dataclasses.replace(SAMPLE_CARD, serving_ticket="B007")))
    assert "B007" in {item.text for item in renderer.placed_text}
    renderer.render(Idle(card=SAMPLE_CARD))
    assert not any("正在办理" in item.text for item in renderer.placed_text)


def test_paused_screen_shows_reason_label_and_time(renderers):
    renderer = renderers[(800, 480)]
    renderer.render(Paused(counter_id="3", reason="closing", since="17:30"))
    texts = {item.text for item in renderer.placed_text}
    assert {"暂停服务", "结束营业", "暂停时间 17:30", "3号窗口"} <= texts


def test_unknown_view_is_refused(renderers):
    with pytest.raises(TypeError):
        renderers[(800, 480)].render(object())


def test_identical_view_is_served_from_the_cache(font):
    renderer = Renderer((1024, 600), *font)
    view = sample_views()["idle"]
    first = renderer.render(view)
    assert renderer.render(dataclasses.replace(view)) is first


def test_countdown_ticks_do_not_push_the_thanks_screen_out_of_the_cache(font):
    """Between two presses the prompt counts down once a second; those frames never come back,
    so they are not kept, and the thanks screen a press leads to is still a look-up. The
    countdown's opening frame comes back with the next transaction and is kept."""
    renderer = Renderer((800, 480), *font)
    views = sample_views()
    opening = dataclasses.replace(views["rating_prompt"], seconds_left=20)
    thanks = renderer.render(Thanks(level=5))
    renderer.render(views["idle"])
    first_frame = renderer.render(opening)
    kept = renderer.cached_frames()
    for seconds_left in range(19, 0, -1):
        renderer.render(dataclasses.replace(opening, seconds_left=seconds_left))
    assert renderer.cached_frames() == kept
    assert renderer.render(Thanks(level=5)) is thanks
    assert renderer.render(opening) is first_frame


def test_countdown_ticks_reuse_one_surface_and_are_redrawn_whole(font):
    renderer = Renderer((800, 480), *font)
    fresh = Renderer((800, 480), *font)
    reasons = sample_views()["reason_prompt"]
    prompt = sample_views()["rating_prompt"]
    renderer.render(reasons)
    first_tick = renderer.render(dataclasses.replace(reasons, seconds_left=reasons.seconds_left - 1))
    renderer.render(prompt)
    tick = dataclasses.replace(prompt, seconds_left=prompt.seconds_left - 1)
    second_tick = renderer.render(tick)
    assert second_tick is first_tick
    # Nothing of the reasons screen is left under the rating prompt drawn over it.
    assert pixels(second_tick) == pixels(fresh.render(tick))


@pytest.mark.parametrize("size", SCREEN_SIZES)
def test_frame_cache_is_bounded_in_bytes(font, size):
    renderer = Renderer(size, *font)
    for level in (5, 4, 3, 2, 1):
        renderer.render(Thanks(level=level))
    renderer.render(sample_views()["idle"])
    renderer.render(sample_views()["paused"])
    kept = renderer.cached_frames()
    assert 2 <= kept <= 7
    assert kept * size[0] * size[1] * 4 <= screens._FRAME_CACHE_BYTES
    # The latest frame is always among those kept.
    assert renderer.render(sample_views()["paused"]) is renderer.render(sample_views()["paused"])


def test_command_line_writes_every_view_at_every_size(tmp_path, font):
    assert screens.main(["--out", str(tmp_path), "--font", str(font[0]),
                         "--font-index", str(font[1])]) == 0
    expected = {f"{name}-{w}x{h}.png" for name in sample_views() for w, h in SCREEN_SIZES}
    assert {p.name for p in tmp_path.iterdir()} == expected
    decoded = pygame.image.load(str(tmp_path / "rating_prompt-480x320.png"))
    assert decoded.get_size() == (480, 320)
