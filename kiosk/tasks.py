"""Background tasks' end: every long-running part of the unit (timers, watchers, uploader, the API
server's helpers) stops the same way."""
from __future__ import annotations

import asyncio


async def cancel_all(tasks: list[asyncio.Task]) -> None:
    """Cancel the tasks, wait until each has ended (whatever it raised), and forget them."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    tasks.clear()
