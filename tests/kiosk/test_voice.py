import json
import wave

import pytest

from kiosk import voice
from kiosk.voice import PHRASES, VoiceError, clip_path, ensure_clips, missing_clips

FEW = ["rate_prompt", "thanks", "7"]


def test_phrase_table():
    assert PHRASES["rate_prompt"] == "请您对本次服务进行评价"
    assert PHRASES["thanks"] == "感谢您的评价"
    assert PHRASES["reason_prompt"] == "请选择不满意的原因"
    assert PHRASES["reason_thanks"] == "感谢您的反馈，我们会改进"
    assert PHRASES["paused"] == "本窗口暂停服务"
    assert [PHRASES[d] for d in "0123456789"] == list("零一二三四五六七八九")
    assert PHRASES["A"] == "A" and PHRASES["Z"] == "Z"
    assert (PHRASES["call_please"], PHRASES["call_number"], PHRASES["call_to_window"],
            PHRASES["call_window"]) == ("请", "号", "到", "号窗口")


def test_ensure_clips_renders_real_wavs_once(tmp_path):
    assert missing_clips(tmp_path, clip_ids=FEW) == FEW
    rendered = ensure_clips(tmp_path, clip_ids=FEW)
    assert rendered == [clip_path(tmp_path, clip_id) for clip_id in FEW]
    for path in rendered:
        with wave.open(str(path)) as clip:
            assert clip.getnframes() > clip.getframerate() * 0.1  # more than 0.1 s of audio
    with wave.open(str(clip_path(tmp_path, "rate_prompt"))) as long, \
            wave.open(str(clip_path(tmp_path, "7"))) as short:
        assert long.getnframes() > 2 * short.getnframes()
    assert missing_clips(tmp_path, clip_ids=FEW) == []
    assert ensure_clips(tmp_path, clip_ids=FEW) == []
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_changed_phrase_or_voice_is_rendered_again(tmp_path, monkeypatch):
    ensure_clips(tmp_path, clip_ids=["thanks"])
    assert missing_clips(tmp_path, clip_ids=["thanks"]) == []
    assert missing_clips(tmp_path, voice=voice.DEFAULT_VOICE, clip_ids=["thanks"]) == []
    assert missing_clips(tmp_path, voice="cmn", clip_ids=["thanks"]) == ["thanks"]
    assert missing_clips(tmp_path, voice=voice.DEFAULT_VOICE, speed=120,
                         clip_ids=["thanks"]) == ["thanks"]
    monkeypatch.setitem(PHRASES, "thanks", "谢谢")
    assert missing_clips(tmp_path, clip_ids=["thanks"]) == ["thanks"]
    assert ensure_clips(tmp_path, clip_ids=["thanks"]) == [clip_path(tmp_path, "thanks")]
    manifest = json.loads((tmp_path / voice.MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["thanks"]["text"] == "谢谢"


def test_deleted_clip_counts_as_missing(tmp_path):
    ensure_clips(tmp_path, clip_ids=["paused"])
    clip_path(tmp_path, "paused").unlink()
    assert missing_clips(tmp_path, clip_ids=["paused"]) == ["paused"]


def test_missing_espeak_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(voice.shutil, "which", lambda name: None)
    with pytest.raises(VoiceError, match="apt-get install espeak-ng"):
        ensure_clips(tmp_path, clip_ids=["thanks"])


def test_unknown_voice_is_a_clear_error_and_leaves_no_file(tmp_path):
    with pytest.raises(VoiceError, match="nonexistent"):
        ensure_clips(tmp_path, voice="nonexistent", clip_ids=["thanks"])
    assert not clip_path(tmp_path, "thanks").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_unknown_clip_id_is_refused(tmp_path):
    with pytest.raises(VoiceError, match="no_such_clip"):
        ensure_clips(tmp_path, clip_ids=["no_such_clip"])


def test_command_line_renders_every_clip(tmp_path, capsys):
    assert voice.main(["--out", str(tmp_path)]) == 0
    assert missing_clips(tmp_path) == []
    assert f"{len(PHRASES)} clips rendered" in capsys.readouterr().out
