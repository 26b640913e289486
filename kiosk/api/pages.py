"""What the unit's public pages share (the hall display, the sim panel): their files, read from the
package (served by the unit itself, offline: nothing comes from elsewhere), the headers they go
out with, and a bound on how often one address may ask for them.

Public means no Bearer token: a waiting room's TV cannot be given one, and the sim panel is a
simulator's. The unit's other bounds hold as for every request: its connection limits
(kiosk.service.http_limits), the live streams' bound (kiosk.api.stream), bounded bodies.
"""
from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from kiosk.api.errors import error_response
from kiosk.api.routes import ApiRoute
from kiosk.api.token_limit import BadTokenLimit
from kiosk.refusals import Refused

MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
               ".js": "text/javascript; charset=utf-8"}
# A page reloads its files when the unit's are newer (no-cache: asked again, cheap), and loads
# nothing from elsewhere.
FILE_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer"}
CONTENT_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                  "connect-src 'self'; base-uri 'none'; form-action 'none'")
# A TV opens its page, its two files and one stream, and opens the stream again after a restart of
# the unit (every few seconds at worst): far below this. A client asking more often is answered 429.
REQUESTS_PER_MINUTE = 120


@cache
def package_file(package: str, name: str) -> bytes:
    return resources.files(package).joinpath("static", name).read_bytes()


def media_type(name: str) -> str:
    return MEDIA_TYPES[name[name.rindex("."):]]


def refuse_unless_streaming(request: Request) -> None:
    """A live stream is for a page's EventSource (it asks with Accept: text/event-stream); any other
    client is told so (406), rather than left waiting on an answer that never ends."""
    if "text/event-stream" not in request.headers.get("accept", ""):
        raise Refused("not_acceptable", "this is a stream of server-sent events: ask with "
                      "Accept: text/event-stream, or read the page's JSON once")


class PageLimit:
    """At most `per_minute` requests from one address, over every route it is given to (the same
    fixed window per address as the bad-token limit, counting every request)."""

    def __init__(self, per_minute: int = REQUESTS_PER_MINUTE) -> None:
        self._window = BadTokenLimit(max_failures=per_minute, window_s=60.0)

    def __call__(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def limited(request: Request) -> Response:
            address = request.client.host if request.client else "unknown"
            wait_s = self._window.retry_after_s(address)
            if wait_s is not None:
                return error_response("rate_limited", f"this page was asked for too often from this address; "
                                      f"retry after {wait_s} s", headers={"Retry-After": str(wait_s)})
            self._window.failed(address)   # counted, whatever the answer
            return await handler(request)
        return limited


def file_routes(prefix: str, package: str, names: dict[str, str], *, limit: PageLimit,
                page_headers: dict[str, str], available: Callable[[], Response | None]) -> list[ApiRoute]:
    """GET routes for a page's files: `names` maps a file in `package`/static to what it is;
    index.html is served at `prefix` itself, the others at `prefix` + name. `available()` answers
    instead when this unit does not serve the page (None: it does)."""
    def serve(name: str) -> Callable[[Request], Awaitable[Response]]:
        headers = {**FILE_HEADERS, **(page_headers if name.endswith(".html") else {})}

        async def endpoint(request: Request) -> Response:
            refusal = available()
            if refusal is not None:
                return refusal
            return Response(package_file(package, name), media_type=media_type(name), headers=headers)
        return limit(endpoint)

    return [ApiRoute("GET", prefix if name == "index.html" else prefix + name, serve(name), summary,
                     media_type=media_type(name).split(";")[0], public=True) for name, summary in names.items()]


def live_script_route(prefix: str, *, limit: PageLimit, available: Callable[[], Response | None]) -> list[ApiRoute]:
    """live.js, what every live page follows its stream with, beside the page's own files."""
    return file_routes(prefix, "kiosk.api", {"live.js": "The page's live stream follower (script)"}, limit=limit,
                       page_headers={}, available=available)
