"""The calls a test makes of a unit, over whatever `get` and `post` its harness has: a real
`kiosk run --sim` process (tests.support.sim_unit) or the same app in process (tests.support.unit_app)."""
from __future__ import annotations

import time
from typing import Any


class UnitCalls:
    token: str

    def get(self, path: str, **kwargs) -> Any:
        raise NotImplementedError

    def post(self, path: str, json: dict | None = None, **kwargs) -> Any:
        raise NotImplementedError

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def press(self, key: int, after_s: float = 0.06) -> list[str]:
        """Press a rating key; waits past the 50 ms debounce first, as no hand presses faster."""
        time.sleep(after_s)
        response = self.post(f"/v1/sim/keys/{key}/press")
        response.raise_for_status()
        return response.json()["events"]

    def events(self, after: int = 0) -> list[dict]:
        collected: list[dict] = []
        while True:
            page = self.get("/v1/events", params={"after": after, "limit": 1000}).json()["events"]
            if not page:
                return collected
            collected += page
            after = page[-1]["seq"]

    def state(self) -> dict:
        return self.get("/v1/state").json()
