"""Unit configuration: TOML validated with pydantic. A bad file stops the service with one clear
message naming the file, the key and what is allowed; the unit never guesses."""
from __future__ import annotations

import hashlib
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sync.protocol import canonical_bytes

DEFAULT_LISTEN = "127.0.0.1:8700"
StaffKey = Literal["complete", "pause", "resume", "call_next", "recall", "no_show"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitSettings(_Section):
    id: str = Field("unit-1", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    role: Literal["counter", "dispenser", "both"] = "counter"
    counter_id: str = Field("1", min_length=1, max_length=16)
    centre_name: str = "住房公积金管理中心"
    state_dir: Path = Path("/var/lib/kiosk")


class KeySettings(_Section):
    # BCM pin numbers of the five rating keys, left to right.
    pins: list[int] = [5, 6, 13, 19, 26]
    # levels[i] is the rating level of key i+1; the default puts 非常满意 on the leftmost key.
    levels: list[int] = [5, 4, 3, 2, 1]
    staff_pins: dict[StaffKey, int] = {}
    debounce_ms: int = Field(50, ge=0, le=1000)

    @field_validator("pins")
    @classmethod
    def _five_distinct_pins(cls, pins: list[int]) -> list[int]:
        if len(pins) != 5 or len(set(pins)) != 5 or not all(0 <= p <= 27 for p in pins):
            raise ValueError("must be five different BCM pin numbers from 0 to 27")
        return pins

    @field_validator("levels")
    @classmethod
    def _levels_permutation(cls, levels: list[int]) -> list[int]:
        if sorted(levels) != [1, 2, 3, 4, 5]:
            raise ValueError("must list each level 1..5 once (5 = 非常满意 … 1 = 非常不满意)")
        return levels

    @model_validator(mode="after")
    def _no_shared_pins(self) -> "KeySettings":
        staff = list(self.staff_pins.values())
        if len(set(staff)) != len(staff) or set(staff) & set(self.pins):
            raise ValueError("staff_pins must not share a pin with each other or with the rating keys")
        return self


class RatingSettings(_Section):
    window_s: float = Field(20.0, ge=3, le=600)
    reason_window_s: float = Field(15.0, ge=3, le=600)
    thanks_s: float = Field(3.0, ge=0.5, le=60)
    # More presses than this within burst_window_s is key chatter or a child playing: one
    # rating.misuse(burst) is logged and the rest of the burst is dropped, so the log stays small.
    burst_presses: int = Field(8, ge=2, le=100)
    burst_window_s: float = Field(2.0, gt=0, le=60)


class DisplaySettings(_Section):
    width: int = Field(800, ge=320, le=3840)
    height: int = Field(480, ge=240, le=2160)
    fullscreen: bool = True
    font: Path | None = None        # a CJK font file; found with fontconfig when not set
    font_index: int | None = Field(None, ge=0)


class VoiceSettings(_Section):
    enabled: bool = True
    volume: float = Field(0.8, ge=0.0, le=1.0)
    # espeak-ng voice for rendering the clips offline. Plain "cmn" reads pinyin tone numbers in
    # English on espeak-ng 1.51 (Debian 12); this one speaks Mandarin with tones.
    voice: str = "cmn-latn-pinyin"


class ApiSettings(_Section):
    listen: str = DEFAULT_LISTEN
    token: str = Field(..., min_length=1)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, listen: str) -> str:
        parse_listen(listen)
        return listen


class SyncSettings(_Section):
    centre_url: str | None = None   # normally written by `kiosk provision` into the state dir
    ca_file: Path | None = None     # extra CA bundle for the centre's TLS certificate
    timeout_s: float = Field(10.0, gt=0, le=120)
    heartbeat_s: float = Field(60.0, ge=5, le=3600)
    bundle_refresh_s: float = Field(600.0, ge=30, le=86400)
    retention_days: int = Field(90, ge=1, le=3650)


class StaffMember(_Section):
    staff_id: str = Field(..., min_length=1, max_length=32)
    name: str = Field(..., min_length=1)
    title: str = ""
    duties: str = ""
    photo: Path | None = None


class Reason(_Section):
    code: str = Field(..., min_length=1)
    label: str = Field(..., min_length=1)


class Settings(_Section):
    unit: UnitSettings = UnitSettings()
    keys: KeySettings = KeySettings()
    rating: RatingSettings = RatingSettings()
    display: DisplaySettings = DisplaySettings()
    voice: VoiceSettings = VoiceSettings()
    api: ApiSettings
    sync: SyncSettings = SyncSettings()
    complaint_phone: str = "12329"
    staff: list[StaffMember] = []
    reasons: list[Reason] = []

    @field_validator("staff")
    @classmethod
    def _unique_staff(cls, staff: list[StaffMember]) -> list[StaffMember]:
        ids = [member.staff_id for member in staff]
        if len(set(ids)) != len(ids):
            raise ValueError("staff_id values must be unique")
        return staff

    def config_hash(self) -> str:
        return hashlib.sha256(canonical_bytes(self.model_dump(mode="json"))).hexdigest()

    @property
    def state_dir(self) -> Path:
        return self.unit.state_dir


class ConfigError(Exception):
    """The configuration cannot be used; str() is the message for the person fixing it."""


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:8700")
    return host.strip("[]"), int(port)


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at the table that holds `loc`'s last element."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if isinstance(current, type) else None
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        current = next((a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)),
                       None)
        if current is None:
            return []
    return sorted(current.model_fields) if isinstance(current, type) else []


def describe_validation_error(source: str, error: ValidationError) -> str:
    lines = [f"{source}: invalid configuration"]
    for problem in error.errors():
        loc = tuple(problem["loc"])
        key = ".".join(str(part) for part in loc) or "(top level)"
        if problem["type"] == "extra_forbidden":
            allowed = ", ".join(_allowed_keys(Settings, loc))
            lines.append(f"  {key}: unknown key (allowed here: {allowed})")
        elif problem["type"] == "missing":
            lines.append(f"  {key}: required but missing")
        else:
            given = problem.get("input")
            shown = "" if isinstance(given, dict | list) else f" (got {given!r})"
            message = problem["msg"].removeprefix("Value error, ")
            lines.append(f"  {key}: {message}{shown}")
    return "\n".join(lines)


def settings_from_mapping(raw: dict[str, Any], source: str) -> Settings:
    try:
        return Settings.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(source, error)) from None


def load_settings(path: Path | str) -> Settings:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    return settings_from_mapping(raw, str(path))


def builtin_sim_settings(state_dir: Path) -> Settings:
    """The config `kiosk run --sim` uses when given none: role both, counter 1, token `sim`."""
    text = resources.files("kiosk").joinpath("defaults/sim.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    raw.setdefault("unit", {})["state_dir"] = str(state_dir)
    return settings_from_mapping(raw, "built-in sim config")


def with_overrides(settings: Settings, *, state_dir: Path | None = None, listen: str | None = None
                   ) -> Settings:
    """Apply `--state-dir` / `--listen`, validated like the file would be."""
    raw = settings.model_dump(mode="json")
    if state_dir is not None:
        raw["unit"]["state_dir"] = str(state_dir)
    if listen is not None:
        raw["api"]["listen"] = listen
    return settings_from_mapping(raw, "command line")
