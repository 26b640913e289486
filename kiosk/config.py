"""Unit configuration: TOML validated with pydantic. A bad file stops the service with one clear
message naming the file, the key and what is allowed; the unit never guesses."""
from __future__ import annotations

import hashlib
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kiosk.clock import DEFAULT_TIME_ZONE, hall_zone
from protocol.chain import canonical_bytes
from protocol.pins import check_pin_hash
from sync.settings import SyncSettings  # the [sync] section: sync's own, so sync needs nothing of kiosk

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
    # The hall's time zone (IANA name): event times, tickets, screens and the business day use it
    # whatever zone the Pi's system has; the centre's default is the same.
    time_zone: str = DEFAULT_TIME_ZONE

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        hall_zone(name)
        return name


class KeySettings(_Section):
    # BCM pin numbers of the five rating keys, left to right.
    pins: list[int] = [5, 6, 13, 19, 26]
    # levels[i] is the rating level of key i+1; the default puts 非常满意 on the leftmost key.
    levels: list[int] = [5, 4, 3, 2, 1]
    staff_pins: dict[StaffKey, int] = {}
    # BCM pins of the dispenser's five ticket keys, left to right (roles dispenser and both):
    # key i takes a ticket of the i-th category in [queue] categories.
    ticket_pins: list[int] = [12, 16, 22, 23, 24]
    debounce_ms: int = Field(50, ge=0, le=1000)

    @field_validator("pins", "ticket_pins")
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
    # More presses than this within burst_window_s is key chatter or a child playing: the rest of
    # the burst is dropped and logged as one rating.misuse(burst) once the keys go quiet, so the
    # log stays small; a rating that the burst began within burst_window_s after is voided.
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
    # The hall's queue host says every call on its speaker. A counter calling through it says
    # its own calls on its own speaker too only when this is set (a room the hall's speaker does
    # not reach); the rule is kiosk.queue.announcer.says_call.
    own_calls: bool = False


class ApiSettings(_Section):
    listen: str = DEFAULT_LISTEN
    token: str = Field(..., min_length=1)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, listen: str) -> str:
        parse_listen(listen)
        return listen


_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


class QueueCategory(_Section):
    letter: str = Field(..., pattern=r"^[A-Z]$")
    name: str = Field(..., min_length=1, max_length=8)
    priority: bool = False   # 绿色通道: called ahead of the others


DEFAULT_QUEUE_CATEGORIES = [
    QueueCategory(letter="A", name="缴存"),
    QueueCategory(letter="B", name="提取"),
    QueueCategory(letter="C", name="贷款"),
    QueueCategory(letter="D", name="咨询"),
    QueueCategory(letter="V", name="绿色通道", priority=True),
]


class QueueSettings(_Section):
    # In key order: the dispenser's key i takes a ticket of categories[i-1].
    categories: list[QueueCategory] = DEFAULT_QUEUE_CATEGORIES
    # Counter id → letters it calls; empty: every counter calls every category. When set, only
    # the counters listed here can call.
    counters: dict[str, list[str]] = {}
    # After this many priority calls in a row at a counter, one waiting regular ticket is called
    # there; 0: priority tickets always first.
    priority_interleave: int = Field(0, ge=0, le=50)
    reset_time: str = Field("00:00", pattern=_HHMM)  # numbering restarts
    # The hall's closing time (its time zone): from then until the next reset the dispenser says
    # 今日已停止取号 and issues nothing. Unset: it stops only when no counter of a category is open
    # (each closed with 暂停服务 · 结束营业).
    closing_time: str | None = Field(None, pattern=_HHMM)
    no_show_after_recalls: int = Field(2, ge=0, le=10)
    lockout_s: float = Field(3.0, ge=0, le=60)
    surge_wait_min: float = Field(30.0, gt=0, le=24 * 60)
    service_time_samples: int = Field(20, ge=1, le=1000)
    default_service_min: float = Field(5.0, gt=0, le=240)
    # A counter whose queue is kept by another unit (the hall's queue host) calls it here with
    # this token (default: this unit's own api.token). Unset: this unit keeps its queue itself.
    host_url: str | None = Field(None, pattern=r"^https?://[^\s/]+(/\S*)?$")
    host_token: str | None = Field(None, min_length=1)
    host_timeout_s: float = Field(3.0, gt=0, le=30)
    host_poll_s: float = Field(5.0, ge=1, le=300)

    @field_validator("categories")
    @classmethod
    def _distinct_letters(cls, categories: list[QueueCategory]) -> list[QueueCategory]:
        letters = [c.letter for c in categories]
        if not letters or len(set(letters)) != len(letters):
            raise ValueError("need at least one category, each with its own letter")
        return categories

    @model_validator(mode="after")
    def _counters_call_known_categories(self) -> "QueueSettings":
        known = {c.letter for c in self.categories}
        for counter, letters in self.counters.items():
            unknown = sorted(set(letters) - known)
            if unknown or not letters:
                raise ValueError(f"counters.{counter} must list known category letters "
                                 f"({', '.join(sorted(known))}); got {', '.join(letters) or 'none'}")
        return self

    @model_validator(mode="after")
    def _closing_is_not_the_reset(self) -> "QueueSettings":
        if self.closing_time is not None and self.closing_time == self.reset_time:
            raise ValueError("closing_time must differ from reset_time (the day starts again at "
                             "reset_time; leave closing_time out for no closing time)")
        return self

    @property
    def reset_minutes(self) -> int:
        return _minutes(self.reset_time)

    @property
    def closing_minutes(self) -> int | None:
        return None if self.closing_time is None else _minutes(self.closing_time)


def escpos_profiles() -> set[str]:
    """python-escpos's printer profile names, read from its data file (importing the library
    takes half a second, too long for loading a config)."""
    import json

    data = resources.files("escpos").joinpath("capabilities.json").read_text(encoding="utf-8")
    return set(json.loads(data)["profiles"])


class PrinterSettings(_Section):
    kind: Literal["none", "usb", "serial", "network", "sim"] = "none"
    vendor_id: int | None = Field(None, ge=0, le=0xFFFF)     # usb, e.g. 0x0416
    product_id: int | None = Field(None, ge=0, le=0xFFFF)
    device: str = "/dev/ttyUSB0"                              # serial
    baudrate: int = Field(9600, ge=1200, le=921600)
    host: str | None = None                                   # network
    port: int = Field(9100, ge=1, le=65535)
    timeout_s: float = Field(3.0, gt=0, le=60)
    profile: str = "default"                                  # a python-escpos printer profile
    paper_width_mm: Literal[58, 80] = 80
    encoding: str = "gb18030"
    # QR code on the ticket; {ticket}, {date}, {category}, {unit} and {ref} are filled in. A
    # provisioned unit prints the centre's page of the ticket ({centre}/t/{ref}) unless the
    # template uses {ref} itself (kiosk/tickets/position_link.py). Empty and unprovisioned: no QR.
    qr_url: str = ""
    # The centre's address as phones reach it, for the ticket's QR; empty: the provisioned centre URL.
    position_url: str = Field("", pattern=r"^(https?://[^\s/?#]+(/[^\s?#]*)?)?$", max_length=200)
    notice_copies: int = Field(2, ge=1, le=2)                 # 2: the citizen's and the kept copy
    poll_s: float = Field(10.0, ge=1, le=3600)                # status check while idle

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, encoding: str) -> str:
        import codecs

        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError("must be a Python codec name, e.g. gb18030, gbk or big5") from None
        return encoding

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, profile: str) -> str:
        profiles = escpos_profiles()
        if profile not in profiles:
            raise ValueError(f"unknown python-escpos profile (known: {', '.join(sorted(profiles))})")
        return profile

    @field_validator("qr_url")
    @classmethod
    def _qr_placeholders(cls, template: str) -> str:
        try:
            template.format(ticket="A001", date="2026-01-01", category="A", unit="unit-1", ref="r")
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(f"only {{ticket}}, {{date}}, {{category}}, {{unit}} and {{ref}} may be used "
                             f"({error})") from None
        return template

    @model_validator(mode="after")
    def _connection_given(self) -> "PrinterSettings":
        if self.kind == "usb" and (self.vendor_id is None or self.product_id is None):
            raise ValueError("a usb printer needs vendor_id and product_id (see lsusb), e.g. 0x0416")
        if self.kind == "network" and not self.host:
            raise ValueError("a network printer needs host")
        return self


class BadgeSettings(_Section):
    # A staff card or barcode reader in serial mode that types a staff ID per card: it signs that
    # staff member in at the counter once they have signed in on the staff console that day.
    kind: Literal["none", "serial"] = "none"
    device: str = "/dev/ttyACM0"      # or a pyserial URL
    baudrate: int = Field(9600, ge=1200, le=921600)


class StaffMember(_Section):
    staff_id: str = Field(..., min_length=1, max_length=32)
    name: str = Field(..., min_length=1)
    title: str = ""
    duties: str = ""
    photo: Path | None = None
    # The staff console's PIN as a slow salted hash (protocol.pins; `centre staff set-pin` makes
    # them, the bundle brings them); no PIN, no sign-in on the console.
    pin_hash: str | None = None

    @field_validator("pin_hash")
    @classmethod
    def _usable_pin_hash(cls, pin_hash: str | None) -> str | None:
        return None if pin_hash is None else check_pin_hash(pin_hash)


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
    queue: QueueSettings = QueueSettings()
    printer: PrinterSettings = PrinterSettings()
    badge: BadgeSettings = BadgeSettings()
    complaint_phone: str = "12329"
    staff: list[StaffMember] = []
    reasons: list[Reason] = []

    @model_validator(mode="after")
    def _queue_fits_role(self) -> "Settings":
        role = self.unit.role
        if self.queue.host_url and role != "counter":
            raise ValueError(f"queue.host_url: a {role} unit keeps the queue itself (it issues the "
                             "tickets); only a counter unit may call a queue host")
        if role != "counter":
            keys = self.keys
            taken = set(keys.staff_pins.values()) | (set(keys.pins) if role == "both" else set())
            if taken & set(keys.ticket_pins):
                raise ValueError("keys.ticket_pins must not share a pin with the rating keys or staff_pins")
        return self

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
