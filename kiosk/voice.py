"""What the unit says, and rendering it to WAV clips offline with espeak-ng.

Clips are rendered once (at install time with `python -m kiosk.voice --out DIR`, or at start-up
for any that are missing) and played by `drivers.speaker`; nothing here touches the network.
A queue call is a sequence of clips, e.g. "call_please", "A", "0", "1", "2", "call_number",
"call_to_window", "3", "call_window" (请 A 0 1 2 号 到 3 号窗口); the dispenser answers a ticket
taken the same way (kiosk.queue.speech).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import string
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from sync.files import fsync_dir, write_atomic
from drivers.speaker import clip_path

# espeak-ng 1.51 (Debian 12 / Raspberry Pi OS) turns Hanzi into numbered pinyin under the plain
# "cmn" voice and then reads the tone numbers in English ("qing three"); the pinyin variant
# speaks the same text with Mandarin tones.
DEFAULT_VOICE = "cmn-latn-pinyin"
ESPEAK_TIMEOUT_S = 30.0
MANIFEST_NAME = "clips.json"

_DIGIT_WORDS = "零一二三四五六七八九"

PHRASES: dict[str, str] = {
    "rate_prompt": "请您对本次服务进行评价",
    "thanks": "感谢您的评价",
    "reason_prompt": "请选择不满意的原因",
    "reason_thanks": "感谢您的反馈，我们会改进",
    "paused": "本窗口暂停服务",
    # Pieces of a queue call, spoken in sequence by the caller.
    "call_please": "请",
    "call_number": "号",
    "call_to_window": "到",
    "call_window": "号窗口",
    # The dispenser's answer to a ticket taken (kiosk.queue.speech.ticket_clips).
    "ticket_your_number": "您的号码是",
    "ticket_ahead": "前面还有",
    "ticket_people_waiting": "人等候",
    "ticket_none_ahead": "前面无人等候",
    "ticket_take": "请取走号票，留意叫号",
    "ticket_unavailable": "暂时无法取号，请联系工作人员",
    "queue_closed": "今日已停止取号",
    "queue_closed_category": "此项业务今日已停止取号，请选择其他业务",
    # Ticket and counter numbers are read digit by digit, ticket categories letter by letter; a
    # number of people as a quantity, with these place values after the digits.
    "ten": "十",
    "hundred": "百",
    "thousand": "千",
    **{digit: word for digit, word in zip(string.digits, _DIGIT_WORDS, strict=True)},
    **{letter: letter for letter in string.ascii_uppercase},
}


class VoiceError(RuntimeError):
    """A clip cannot be rendered; the message says what to install or fix."""


def _recipe(clip_id: str, voice: str, speed: int | None) -> dict[str, object]:
    return {"text": PHRASES[clip_id], "voice": voice, "speed": speed}


def _read_manifest(cache_dir: Path) -> dict[str, object]:
    try:
        manifest = json.loads((Path(cache_dir) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _write_atomically(target: Path, data: bytes) -> None:
    # Durable as well as atomic: after a power cut the manifest must not name clips as rendered
    # while their files are empty (the voice would then stay silent until someone noticed).
    write_atomic(target, data, 0o600)


def missing_clips(cache_dir: Path, voice: str | None = None, speed: int | None = None,
                  clip_ids: Iterable[str] | None = None) -> list[str]:
    """Clip ids whose WAV is absent or was rendered from another text (the manifest written
    next to the clips remembers how each one was made). Given a voice, a clip rendered with
    another voice or speed counts as missing too."""
    wanted = list(PHRASES) if clip_ids is None else list(clip_ids)
    manifest = _read_manifest(cache_dir)

    def up_to_date(clip_id: str) -> bool:
        made = manifest.get(clip_id)
        if not isinstance(made, dict) or not clip_path(cache_dir, clip_id).is_file():
            return False
        if voice is None:
            return made.get("text") == PHRASES.get(clip_id)
        return made == _recipe(clip_id, voice, speed)

    return [clip_id for clip_id in wanted if not up_to_date(clip_id)]


def _render(text: str, target: Path, voice: str, speed: int | None, espeak: str) -> None:
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    temp = Path(temp_name)
    command = [espeak, "-v", voice, "-b", "1", "-w", str(temp), "--stdin"]
    if speed is not None:
        command[1:1] = ["-s", str(speed)]
    try:
        # The text goes in on stdin so no phrase can be mistaken for an option.
        result = subprocess.run(command, input=text.encode("utf-8"), capture_output=True,
                                timeout=ESPEAK_TIMEOUT_S, check=False)
        if result.returncode != 0 or temp.stat().st_size <= 44:  # 44 bytes = WAV header only
            detail = result.stderr.decode("utf-8", "replace").strip() or "no audio written"
            raise VoiceError(f"espeak-ng could not render {target.name} with voice {voice!r}: "
                             f"{detail}")
        # espeak-ng closed the file; make its bytes durable before the rename makes it the clip.
        fd = os.open(temp, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
        fsync_dir(target.parent)
    except subprocess.TimeoutExpired as error:
        raise VoiceError(f"espeak-ng took longer than {ESPEAK_TIMEOUT_S:.0f} s for "
                         f"{target.name}") from error
    finally:
        temp.unlink(missing_ok=True)


def ensure_clips(cache_dir: Path, voice: str = DEFAULT_VOICE, speed: int | None = None,
                 clip_ids: Iterable[str] | None = None) -> list[Path]:
    """Render every clip that is missing or stale; return the paths rendered now ([] when the
    cache was complete)."""
    cache_dir = Path(cache_dir)
    wanted = list(PHRASES) if clip_ids is None else list(clip_ids)
    unknown = [clip_id for clip_id in wanted if clip_id not in PHRASES]
    if unknown:
        raise VoiceError(f"no phrase for clip ids: {', '.join(unknown)}")
    todo = missing_clips(cache_dir, voice, speed, wanted)
    if not todo:
        return []
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise VoiceError("espeak-ng is not installed (apt-get install espeak-ng); it renders "
                         f"the voice clips into {cache_dir}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(cache_dir)
    rendered: list[Path] = []
    try:
        for clip_id in todo:
            target = clip_path(cache_dir, clip_id)
            _render(PHRASES[clip_id], target, voice, speed, espeak)
            manifest[clip_id] = _recipe(clip_id, voice, speed)
            rendered.append(target)
    finally:
        # Record what was rendered even if a later clip failed, so a retry redoes only the rest.
        manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
        _write_atomically(cache_dir / MANIFEST_NAME, manifest_bytes)
    return rendered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiosk.voice",
                                     description="Render the unit's voice clips with espeak-ng.")
    parser.add_argument("--out", type=Path, required=True, help="folder for the WAV clips")
    parser.add_argument("--voice", default=DEFAULT_VOICE, help="espeak-ng voice name")
    parser.add_argument("--speed", type=int, default=None, help="words per minute")
    args = parser.parse_args(argv)
    try:
        rendered = ensure_clips(args.out, voice=args.voice, speed=args.speed)
    except VoiceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{len(rendered)} clips rendered, {len(PHRASES) - len(rendered)} already up to date "
          f"in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
