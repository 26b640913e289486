"""The hall display's routes on the queue host: the page (`/hall/`), its files, and what it shows,
once (`/hall/api/board`) or live (`/hall/api/stream`, server-sent events). Mounted by
kiosk.api.server beside the API's own routes.

No login: a waiting room's TV cannot sign in, and the page shows nothing private
(kiosk.hall.board). Each address may ask for the page at most `PageLimit`'s rate, and at most
HALL_STREAMS hall pages are open at once (their own bound, so staff consoles cannot crowd the TVs
out, nor the other way round). A unit that does not keep the queue (a counter calling through the
host) says where the hall display is.
"""
from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kiosk.api.pages import CONTENT_POLICY, PageLimit, file_routes, live_script_route, refuse_unless_streaming
from kiosk.api.routes import ApiRoute
from kiosk.api.stream import StreamSlots, event_stream
from kiosk.hall.board import HallBoard
from kiosk.refusals import Refused

HALL_STREAMS = 16
# A signage system may show the page inside its own frame: the page has nothing to click.
PAGE_HEADERS = {"Content-Security-Policy": CONTENT_POLICY}
FILES = {"index.html": "The hall display: a full-screen page for the waiting room's TV (HTML, no login)",
         "hall.css": "The hall display's style sheet", "hall.js": "The hall display's script"}
NOT_HOST_PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>叫号大屏</title>
<body style="font: 32px sans-serif; background: #0b1f3a; color: #fff; padding: 2em">
<p>本机不是叫号主机。请打开叫号主机的 <b>{host}/hall/</b></p></body></html>"""


class HallPage:
    def __init__(self, app: Any, slots: StreamSlots) -> None:
        self.app = app
        self.slots = slots
        self._board: HallBoard | None = None

    def board(self) -> HallBoard:
        """The queue host's board; Refused("not_queue_host") on a unit that calls through a host."""
        queue = self.app.queue
        if not queue.is_host:
            raise Refused("not_queue_host", f"this unit's queue is kept by {self.app.settings.queue.host_url}; "
                          "the hall display is there, at /hall/")
        if self._board is None:
            self._board = HallBoard(self.app)
        return self._board

    def not_here(self) -> Response | None:
        if self.app.queue.is_host:
            return None
        host = self.app.settings.queue.host_url or ""
        return Response(NOT_HOST_PAGE.format(host=host.rstrip("/")), status_code=404,
                        media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    async def current(self, request: Request) -> Response:
        return JSONResponse(self.board().snapshot(), headers={"Cache-Control": "no-store"})

    async def stream(self, request: Request) -> Response:
        refuse_unless_streaming(request)
        board = self.board()
        return event_stream(request, self.app.changes, board.snapshot, self.slots)


def hall_routes(app: Any, limit: PageLimit | None = None) -> list[ApiRoute]:
    limit = limit or PageLimit()
    hall = HallPage(app, StreamSlots(HALL_STREAMS))
    return [
        *file_routes("/hall/", "kiosk.hall", FILES, limit=limit, page_headers=PAGE_HEADERS, available=hall.not_here),
        *live_script_route("/hall/", limit=limit, available=hall.not_here),
        ApiRoute("GET", "/hall/api/board", limit(hall.current),
                 "What the hall display shows: serving numbers and windows, last calls, waiting per category, "
                 "announcements (no login; nothing private)", public=True),
        ApiRoute("GET", "/hall/api/stream", limit(hall.stream),
                 "The same, as server-sent events whenever it changes (Accept: text/event-stream)",
                 media_type="text/event-stream", public=True),
    ]
