"""Service items for the 一次性告知清单: the centre's bundle cached in the state dir when there is
one, else the sample items shipped in the package (kiosk/defaults/service_items.toml)."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

SHIPPED_ITEMS = "defaults/service_items.toml"


@dataclass(frozen=True)
class ServiceItem:
    code: str
    name: str
    category: str
    time_limit: str
    materials: tuple[str, ...]


def shipped_service_items() -> dict[str, ServiceItem]:
    text = resources.files("kiosk").joinpath(SHIPPED_ITEMS).read_text(encoding="utf-8")
    return {raw["code"]: ServiceItem(raw["code"], raw["name"], raw.get("category", ""),
                                     raw.get("time_limit", ""), tuple(raw.get("materials", ())))
            for raw in tomllib.loads(text)["service_items"]}


def current_service_items(state_dir: Path) -> tuple[dict[str, ServiceItem], str]:
    """The items by code and where they came from ("bundle <version>" or "shipped"). Reads the
    disk (blocking): call it in a worker thread."""
    from sync.bundle import load_cached_bundle  # requests and friends: only when a notice is printed

    bundle = load_cached_bundle(state_dir)
    if bundle is not None and bundle.data.service_items:
        items = {item.code: ServiceItem(item.code, item.name, item.category, item.time_limit,
                                        tuple(item.materials))
                 for item in bundle.data.service_items}
        return items, f"bundle {bundle.data.version}"
    return shipped_service_items(), "shipped"
