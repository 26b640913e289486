"""The 好差评 platform's configuration (TOML): where to send, how to sign, how long to try, and
how the centre's fields are named in the platform's records.

```toml
[platform]
url = "https://hcp.example.gov.cn/api/evaluation"
area_code = "440100"                 # the centre's administrative area (行政区划代码)
auth = "token"                       # or "hmac"
token_env = "CENTRE_PLATFORM_TOKEN"  # the token (auth = "token") or the HMAC secret, from the environment
timeout_s = 10
dead_after_days = 7                  # not taken after this many days: dead, until resent by hand
reason_wait_s = 60                   # a 差评 waits this long for its reasons before it is sent

[platform.fields]                    # platform field = centre field (see SOURCE_FIELDS)
taskCode = "service_item"

[platform.channels]                  # the centre's channel → the platform's code
keypad = "5"
```

A field left out of `[platform.fields]` keeps its default; one given as "" is not sent.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

CONFIG_ENV = "CENTRE_PLATFORM_CONFIG"
DEFAULT_TOKEN_ENV = "CENTRE_PLATFORM_TOKEN"
AUTH_KINDS = ("token", "hmac")

# What the centre can put in a record, by name: the values a record is built from
# (centre.platform.outbox.record_values).
SOURCE_FIELDS = (
    "key", "kind", "event_id", "transaction_id", "service_item", "level", "rated_at",
    "reason_codes", "area_code", "channel", "counter_id", "staff_id", "ticket", "unit_id", "note",
    "done_at",
)
# The platform's field names, after those provincial 好差评 interfaces commonly take: the item's
# code (事项编码), the level 1–5, the time rated, the 差评 reasons' codes comma-separated, the area
# code, the channel (评价渠道), the window and the staff member. A platform that names them
# otherwise is configured in [platform.fields].
DEFAULT_FIELDS: dict[str, str] = {
    "evaluationId": "key",
    "dataType": "kind",
    "projectNo": "transaction_id",
    "taskCode": "service_item",
    "alternate": "level",
    "assessTime": "rated_at",
    "evalDetail": "reason_codes",
    "areaCode": "area_code",
    "pf": "channel",
    "windowNo": "counter_id",
    "staffNo": "staff_id",
    "handleNote": "note",
    "handleTime": "done_at",
}
# 评价渠道: the keypad at the counter is a hall terminal, the QR on the slip a 二维码 rating.
DEFAULT_CHANNELS: dict[str, str] = {"keypad": "5", "qr": "3"}


class PlatformConfigError(ValueError):
    """A platform configuration that cannot be used: the message says which setting and why."""


@dataclass(frozen=True)
class PlatformConfig:
    url: str
    area_code: str = ""
    auth: str = "token"
    secret: str = ""  # the bearer token or the HMAC key, as read from token_env (or `token`)
    timeout_s: float = 10.0
    dead_after_days: float = 7.0
    reason_wait_s: float = 60.0
    backoff_base_s: float = 2.0
    backoff_max_s: float = 300.0
    poll_s: float = 5.0
    fields: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_FIELDS))
    channels: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CHANNELS))

    def record(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The platform's record for these centre `values` (named as in SOURCE_FIELDS)."""
        record: dict[str, Any] = {}
        for name, source in self.fields.items():
            value = values.get(source)
            if source == "channel" and value is not None:
                value = self.channels.get(value, value)
            record[name] = "" if value is None else value
        return record


def _number(section: Mapping[str, Any], name: str, default: float, *, minimum: float = 0) -> float:
    value = section.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise PlatformConfigError(f"platform.{name} must be a number of at least {minimum}; got {value!r}")
    return float(value)


def _names(section: Any, what: str, allowed: tuple[str, ...] | None) -> dict[str, str]:
    if section is None:
        return {}
    if not isinstance(section, dict) or not all(isinstance(v, str) for v in section.values()):
        raise PlatformConfigError(f"[platform.{what}] holds names = \"text\" lines")
    if allowed is not None:
        unknown = sorted(v for v in section.values() if v and v not in allowed)
        if unknown:
            raise PlatformConfigError(f"[platform.{what}] names fields the centre does not have: "
                                      f"{', '.join(unknown)} (it has {', '.join(allowed)})")
    return dict(section)


def parse_config(document: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> PlatformConfig:
    environ = os.environ if environ is None else environ
    section = document.get("platform")
    if not isinstance(section, dict):
        raise PlatformConfigError("the file has no [platform] table")
    url = section.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise PlatformConfigError(f"platform.url must be an http:// or https:// URL; got {url!r}")
    auth = section.get("auth", "token")
    if auth not in AUTH_KINDS:
        raise PlatformConfigError(f"platform.auth is token or hmac; got {auth!r}")
    token_env = section.get("token_env", DEFAULT_TOKEN_ENV)
    secret = section.get("token") or environ.get(str(token_env), "")
    if not isinstance(secret, str) or not secret:
        raise PlatformConfigError(f"no {'HMAC secret' if auth == 'hmac' else 'token'} for the platform: "
                                  f"set ${token_env} (or platform.token)")
    fields = {**DEFAULT_FIELDS, **_names(section.get("fields"), "fields", SOURCE_FIELDS)}
    return PlatformConfig(
        url=url, area_code=str(section.get("area_code", "")), auth=auth, secret=secret,
        timeout_s=_number(section, "timeout_s", 10.0, minimum=0.1),
        dead_after_days=_number(section, "dead_after_days", 7.0),
        reason_wait_s=_number(section, "reason_wait_s", 60.0),
        backoff_base_s=_number(section, "backoff_base_s", 2.0, minimum=0.001),
        backoff_max_s=_number(section, "backoff_max_s", 300.0, minimum=0.001),
        poll_s=_number(section, "poll_s", 5.0, minimum=0.01),
        fields={name: source for name, source in fields.items() if source},
        channels={**DEFAULT_CHANNELS, **_names(section.get("channels"), "channels", None)})


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> PlatformConfig:
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlatformConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PlatformConfigError(f"{path} is not TOML: {exc}") from exc
    return parse_config(document, environ)


def config_path(given: str | None) -> str | None:
    """The configuration file: the option, else $CENTRE_PLATFORM_CONFIG, else none (no forwarding)."""
    return given or os.environ.get(CONFIG_ENV) or None
