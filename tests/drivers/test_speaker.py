import logging
import time

import pygame
import pytest

from drivers import speaker as speaker_module
from drivers.speaker import (PygameSpeaker, SilentSpeaker, SimSpeaker, SpeakerError,
                             open_speaker)
from kiosk.voice import ensure_clips


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    ensure_clips(folder, clip_ids=["thanks", "call_please", "7"])
    return folder


def wait_until_quiet(speaker, timeout):
    deadline = time.monotonic() + timeout
    while speaker.speaking and time.monotonic() < deadline:
        time.sleep(0.02)
    return not speaker.speaking


def test_sim_speaker_records_in_order():
    speaker = open_speaker(enabled=True, sim=True, clip_dir=None, volume=0.5)
    assert isinstance(speaker, SimSpeaker)
    for clip_id in ["rate_prompt", "thanks", "call_please", "A", "0"]:
        speaker.say(clip_id)
    assert speaker.said == ["rate_prompt", "thanks", "call_please", "A", "0"]


def test_disabled_voice_is_silent_even_in_sim():
    speaker = open_speaker(enabled=False, sim=True, clip_dir=None, volume=0.5)
    assert isinstance(speaker, SilentSpeaker)
    speaker.say("thanks")
    assert not hasattr(speaker, "said")


def test_pygame_speaker_plays_real_clips_without_blocking(clip_dir, caplog):
    caplog.set_level(logging.WARNING)
    speaker = PygameSpeaker(clip_dir, volume=0.8)
    try:
        started = time.monotonic()
        speaker.say("call_please")
        speaker.say("7")
        assert time.monotonic() - started < 0.05   # say() only queues
        assert speaker.speaking
        # Played one after the other in real time (the dummy audio driver keeps time).
        sounds = [pygame.mixer.Sound(str(clip_dir / f"{c}.wav")) for c in ("call_please", "7")]
        expected = sum(sound.get_length() for sound in sounds)
        assert wait_until_quiet(speaker, timeout=expected + 5)
        assert time.monotonic() - started >= expected * 0.8
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    finally:
        speaker.close()
        speaker.close()
    assert not pygame.mixer.get_init()


def test_missing_clip_is_a_warning_not_a_crash(clip_dir, caplog):
    caplog.set_level(logging.WARNING)
    speaker = PygameSpeaker(clip_dir, volume=0.3)
    try:
        speaker.say("rate_prompt")  # not rendered into this folder
        assert "rate_prompt" in caplog.text
        assert not speaker.speaking
        speaker.say("thanks")       # the unit keeps talking
        assert speaker.speaking
    finally:
        speaker.close()


def test_close_cuts_speech_short(clip_dir):
    speaker = PygameSpeaker(clip_dir, volume=0.3)
    for _ in range(5):
        speaker.say("thanks")
    started = time.monotonic()
    speaker.close()
    assert time.monotonic() - started < 1.0
    speaker.say("thanks")  # after close: ignored, no error


def test_audio_device_failure_is_a_clear_error(clip_dir, monkeypatch):
    def no_device(**_):
        raise pygame.error("ALSA: no such device")
    monkeypatch.setattr(speaker_module.pygame.mixer, "init", no_device)
    with pytest.raises(SpeakerError, match="cannot open the audio device: ALSA"):
        PygameSpeaker(clip_dir, volume=0.5)


def test_volume_out_of_range_is_refused(clip_dir):
    with pytest.raises(ValueError, match="volume"):
        PygameSpeaker(clip_dir, volume=1.5)
