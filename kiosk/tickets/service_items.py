"""Service items for the 一次性告知清单: the centre's bundle cached in the state dir when there is
one, else the sample items shipped in the package (kiosk/defaults/service_items.toml).

Each item carries its procedure (`steps`, 办理流程) beside its materials. A bundle from a centre
that does not send steps yet borrows the shipped steps of the same item (same code and name), so
the notice still shows the procedure; an item known nowhere with steps prints without them."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
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
    steps: tuple[str, ...] = ()


def shipped_service_items() -> dict[str, ServiceItem]:
    text = resources.files("kiosk").joinpath(SHIPPED_ITEMS).read_text(encoding="utf-8")
    return {raw["code"]: ServiceItem(raw["code"], raw["name"], raw.get("category", ""),
                                     raw.get("time_limit", ""), tuple(raw.get("materials", ())),
                                     tuple(raw.get("steps", ())))
            for raw in tomllib.loads(text)["service_items"]}


def _with_shipped_steps(item: ServiceItem, shipped: dict[str, ServiceItem]) -> ServiceItem:
    known = shipped.get(item.code)
    if item.steps or known is None or known.name != item.name:
        return item
    return replace(item, steps=known.steps)


def current_service_items(state_dir: Path) -> tuple[dict[str, ServiceItem], str]:
    """The items by code and where they came from ("bundle <version>" or "shipped"). Reads the
    disk (blocking): call it in a worker thread."""
    from sync.bundle import load_cached_bundle  # requests and friends: only when a notice is printed

    bundle = load_cached_bundle(state_dir)
    shipped = shipped_service_items()
    if bundle is not None and bundle.data.service_items:
        items = {item.code: _with_shipped_steps(
                     ServiceItem(item.code, item.name, item.category, item.time_limit, tuple(item.materials),
                                 tuple(item.steps)), shipped)
                 for item in bundle.data.service_items}
        return items, f"bundle {bundle.data.version}"
    return shipped, "shipped"
