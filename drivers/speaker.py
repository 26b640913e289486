"""The counter's voice: pre-rendered WAV clips (`<clip_dir>/<clip id>.wav`, rendered by the service)
played by id.

say() never blocks the event loop: it queues the clip and returns. Clips play one after another
in the order asked, never on top of each other, so a queue call made of several clips ("请", "A",
"0", "1", "2", "号", …) is heard as one sentence.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Protocol

import pygame


from drivers.errors import DriverError

log = logging.getLogger(__name__)

MAX_PENDING_CLIPS = 64  # a few calls' worth; beyond that the speech would be stale anyway
_STOP = object()


def clip_path(clip_dir: Path, clip_id: str) -> Path:
    """Where the clip `clip_id` lies: the file layout every speaker and the clip renderer share."""
    return Path(clip_dir) / f"{clip_id}.wav"


class SpeakerError(DriverError):
    """The audio device cannot be used."""


class Speaker(Protocol):
    def say(self, clip_id: str) -> None:
        """Queue a clip and return at once."""

    def close(self) -> None:
        """Stop speaking and release the audio device. Safe to call twice."""


class PygameSpeaker:
    """Plays clips from `clip_dir` through pygame.mixer on a worker thread of its own."""

    def __init__(self, clip_dir: Path, volume: float) -> None:
        if not 0.0 <= volume <= 1.0:
            raise ValueError(f"volume must be between 0.0 and 1.0, got {volume}")
        self._clip_dir = Path(clip_dir)
        self._volume = volume
        try:
            # espeak-ng writes 22.05 kHz mono; opening the device that way spares resampling.
            pygame.mixer.init(frequency=22050, size=-16, channels=1)
        except pygame.error as error:
            raise SpeakerError(f"cannot open the audio device: {error} (check the sound card, "
                               "or set voice.enabled = false)") from error
        self._channel = pygame.mixer.Channel(0)
        self._sounds: dict[str, pygame.mixer.Sound] = {}
        self._pending: queue.Queue[object] = queue.Queue(maxsize=MAX_PENDING_CLIPS)
        self._worker = threading.Thread(target=self._play_queued, name="speaker", daemon=True)
        self._closed = False
        self._worker.start()

    def say(self, clip_id: str) -> None:
        if self._closed:
            return
        if not clip_path(self._clip_dir, clip_id).is_file():
            log.warning("voice clip %r is missing from %s; not spoken", clip_id, self._clip_dir)
            return
        try:
            self._pending.put_nowait(clip_id)
        except queue.Full:
            log.warning("speech backlog full; clip %r dropped", clip_id)

    @property
    def speaking(self) -> bool:
        """True while a clip is playing or waiting to play."""
        return self._pending.unfinished_tasks > 0

    def _sound(self, clip_id: str) -> pygame.mixer.Sound:
        sound = self._sounds.get(clip_id)
        if sound is None:
            sound = pygame.mixer.Sound(str(clip_path(self._clip_dir, clip_id)))
            sound.set_volume(self._volume)
            self._sounds[clip_id] = sound
        return sound

    def _play_queued(self) -> None:
        while True:
            item = self._pending.get()
            try:
                if item is _STOP:
                    return
                self._play(str(item))
            except Exception:  # a bad clip must not silence the unit for good
                log.exception("cannot play voice clip %r", item)
            finally:
                self._pending.task_done()

    def _play(self, clip_id: str) -> None:
        sound = self._sound(clip_id)
        self._channel.play(sound)
        # Wait for the end of this clip before the next; the deadline guards against a device
        # that stops consuming audio and would otherwise hold the queue forever.
        deadline = time.monotonic() + sound.get_length() + 2.0
        while self._channel.get_busy() and not self._closed and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        while True:  # drop what has not started; the worker then sees the stop marker
            try:
                self._pending.get_nowait()
                self._pending.task_done()
            except queue.Empty:
                break
        self._pending.put(_STOP)
        self._worker.join(timeout=5.0)
        self._channel.stop()
        pygame.mixer.quit()


class SimSpeaker:
    """Records what would have been said (the sim API's /v1/sim/speech, tests)."""

    def __init__(self) -> None:
        self.said: list[str] = []

    def say(self, clip_id: str) -> None:
        self.said.append(clip_id)

    def close(self) -> None:
        pass


class SilentSpeaker:
    """Voice switched off in the config: says nothing, records nothing."""

    def say(self, clip_id: str) -> None:
        pass

    def close(self) -> None:
        pass


def open_speaker(*, enabled: bool, sim: bool, clip_dir: Path, volume: float) -> Speaker:
    if not enabled:
        return SilentSpeaker()
    if sim:
        return SimSpeaker()
    return PygameSpeaker(clip_dir, volume)
