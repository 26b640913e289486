"""The centre's parts import one way: each only the parts listed before it in LAYERS (the order of
centre/README.md's Layout), so the folder list reads as the architecture. Lazy and TYPE_CHECKING
imports count, as in tests/test_import_graph.py, whose graph this reads."""
from __future__ import annotations

from tests.test_import_graph import import_graph

LAYERS = ("storage", "web", "dates", "platform", "units", "ledger", "complaints", "reports", "api", "dashboard", "public", "app",
          "commands", "cli", "__main__")


def part(module: str) -> str | None:
    """centre.units.upload → "units"; None for what is not the centre's."""
    names = module.split(".")
    return names[1] if names[0] == "centre" and len(names) > 1 else None


def test_every_module_of_the_centre_is_in_a_layer():
    parts = {part(module) for module in import_graph()} - {None}
    assert parts <= set(LAYERS), sorted(parts - set(LAYERS))


def test_the_centres_parts_import_only_the_parts_before_them():
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items() if part(module) is not None
        for target in targets
        if part(target) is not None and LAYERS.index(part(target)) > LAYERS.index(part(module)))
    assert not upward, "\n".join(upward)
