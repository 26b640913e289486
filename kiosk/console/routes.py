"""The console's routes: the page (`/console/`), its files, and the JSON it works with
(`/console/api/…`). Mounted by kiosk.api.server beside the API's own routes.

No Bearer token here: the console authenticates with its session cookie (kiosk.console.guard),
and every change carries the session's CSRF token. The unit's other bounds still hold: its
connection limits (kiosk.service.http_limits) apply to every connection, and wrong PINs count
towards the per-address limit of wrong tokens (kiosk.api.token_limit), which is checked before
any PIN is: an address past it is answered 429 for tokens and PINs alike.

Each action calls the very method the API's route for it calls (app.sign_in, app.queue.act, …),
so the events it appends are the API's, event for event.
"""
from __future__ import annotations

import asyncio
import secrets
from functools import cache
from importlib import resources
from typing import Any, Awaitable, Callable

from pydantic import Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kiosk.api.bodies import Body, TransferTarget, read_body
from kiosk.api.errors import error_response
from kiosk.api.routes import ApiRoute, Parameter
from kiosk.api.stream import StreamSlots, event_stream
from kiosk.api.token_limit import BadTokenLimit
from kiosk.console.badge import BadgeSignIn
from kiosk.console.guard import (LOGIN_COOKIE, SESSION_COOKIE, drop_cookie, refuse_bad_csrf,
                                 refuse_bad_login_token, refuse_cross_site, session_or_refuse, set_cookie)
from kiosk.console.pins import PinChecker, PinLock
from kiosk.console.sessions import ConsoleSession, Sessions
from kiosk.console.snapshot import console_snapshot
from kiosk.console.watch import CounterWatch
from kiosk.console.words import refusal_text
from kiosk.refusals import Refused
from kiosk.screens.views import PAUSE_REASON_LABELS
from kiosk.tickets.service_items import current_service_items
from protocol.events import EventType

LOGIN_TOKEN_LIFETIME_S = 12 * 3600
MAX_SEARCH_RESULTS = 30
NO_STORE = {"Cache-Control": "no-store"}
# The page loads nothing from elsewhere, and no other site may frame it (a click on a hidden
# console under another page's buttons).
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
STATIC = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8",
          "index.html": "text/html; charset=utf-8"}


@cache
def static_file(name: str) -> bytes:
    return resources.files("kiosk.console").joinpath("static", name).read_bytes()


class SignInBody(Body):
    staff_id: str = Field(..., min_length=1, max_length=32)
    pin: str = Field(..., min_length=1, max_length=64)


class PauseBody(Body):
    # break, meeting, closing, or the staff's own words
    reason: str = Field(..., min_length=1, max_length=32)

    @field_validator("reason")
    @classmethod
    def _trimmed(cls, reason: str) -> str:
        if not reason.strip():
            raise ValueError("a reason is break, meeting, closing or a few words")
        return reason.strip()


class NoticeBody(Body):
    service_item: str = Field(..., min_length=1, max_length=64)


Act = Callable[[Request, ConsoleSession], Awaitable[dict[str, Any]]]


def refusal_answer(refused: Refused) -> Response:
    detail = {key: value for key, value in refused.detail.items() if isinstance(value, str | int | bool)}
    headers = dict(NO_STORE)
    if isinstance(detail.get("retry_after_s"), int):
        headers["Retry-After"] = str(detail["retry_after_s"])
    return error_response(refused.code, refused.message, headers=headers,
                          **{**detail, "text": refusal_text(refused.code, detail)})


def answer(data: dict[str, Any]) -> Response:
    return JSONResponse(data, headers=NO_STORE)


def _types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


class Console:
    def __init__(self, app: Any, limit: BadTokenLimit, slots: StreamSlots, *, sessions: Sessions | None = None,
                 pin_lock: PinLock | None = None) -> None:
        self.app = app
        self.limit = limit
        self.slots = slots
        self.sessions = sessions if sessions is not None else Sessions()   # (an empty one is falsy)
        self.pin_lock = pin_lock if pin_lock is not None else PinLock()
        self.pins = PinChecker()
        self.watch = CounterWatch(app)
        self.badges = BadgeSignIn(app)

    # --- what every request passes ------------------------------------------------------------

    def still_signed_in(self, session: ConsoleSession) -> bool:
        return self.app.staff_id == session.staff_id and self.watch.sign_in_seq == session.sign_in_seq

    async def _ready(self) -> None:
        if self.app.settings.unit.role == "dispenser":
            raise Refused("not_found", "a dispenser has no staff console (roles counter and both have)")
        await self.watch.ready()
        self.badges.start()

    def page(self, name: str) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            if self.app.settings.unit.role == "dispenser":
                return Response("本机为取号机，没有员工控制台。".encode(), status_code=404,
                                media_type=STATIC["index.html"], headers=PAGE_HEADERS)
            return Response(static_file(name), media_type=STATIC[name], headers=PAGE_HEADERS)
        return serve

    def reading(self, handler: Callable[[Request, ConsoleSession, str], Awaitable[Response]]):
        """A GET that needs a session."""
        async def endpoint(request: Request) -> Response:
            try:
                await self._ready()
                token, session = session_or_refuse(request, self.sessions, self.still_signed_in)
                return await handler(request, session, token)
            except Refused as refused:
                return refusal_answer(refused)
        return endpoint

    def changing(self, act: Act):
        """A POST that needs a session, its CSRF token and this unit's own page."""
        async def endpoint(request: Request) -> Response:
            try:
                refuse_cross_site(request)
                await self._ready()
                _, session = session_or_refuse(request, self.sessions, self.still_signed_in)
                refuse_bad_csrf(request, session)
                return answer(await act(request, session))
            except Refused as refused:
                return refusal_answer(refused)
        return endpoint

    # --- signing in and out ---------------------------------------------------------------

    async def session_info(self, request: Request) -> Response:
        """The page's first question: who is signed in here, with the token for the next change."""
        try:
            await self._ready()
        except Refused as refused:
            return refusal_answer(refused)
        app = self.app
        queue = app.queue
        info: dict[str, Any] = {
            "counter_id": app.settings.unit.counter_id,
            "centre_name": app.settings.unit.centre_name,
            "categories": [{"letter": c.letter, "name": c.name} for c in queue.rules.categories],
            "counters": sorted(c for c in queue.rules.counters if c != app.settings.unit.counter_id),
            "pause_reasons": [{"code": code, "label": label} for code, label in PAUSE_REASON_LABELS.items()],
        }
        token = request.cookies.get(SESSION_COOKIE)
        session = self.sessions.get(token)
        if session is not None and self.still_signed_in(session):
            return answer({**info, "signed_in": True, "csrf": session.csrf,
                           "staff": {"staff_id": session.staff_id, "name": app.staff_name or session.staff_id},
                           "expires_in_s": session.seconds_left(self.sessions.now())})
        login = request.cookies.get(LOGIN_COOKIE)
        if not login or len(login) > 128:
            login = secrets.token_urlsafe(32)
        response = answer({**info, "signed_in": False, "csrf": login, "staff": None,
                           "badge": self.badges.waiting_staff()})
        set_cookie(response, request, LOGIN_COOKIE, login, LOGIN_TOKEN_LIFETIME_S)
        if token:
            drop_cookie(response, request, SESSION_COOKIE)
        return response

    async def sign_in(self, request: Request) -> Response:
        try:
            refuse_cross_site(request)
            refuse_bad_login_token(request)
            await self._ready()
            body = await read_body(request, SignInBody)
            staff_id = body.staff_id
            await self._check_pin(request, staff_id, body.pin)
            events = await self.app.sign_in(staff_id)     # POST /v1/staff/sign-in calls the same
            token, session = self.sessions.start(staff_id, self.watch.sign_in_seq)
        except Refused as refused:
            return refusal_answer(refused)
        response = answer({"signed_in": True, "csrf": session.csrf, "events": _types(events),
                           "staff": {"staff_id": staff_id, "name": self.app.staff_name or staff_id},
                           "expires_in_s": session.seconds_left(self.sessions.now()), "say": "已签到"})
        set_cookie(response, request, SESSION_COOKIE, token, int(self.sessions.lifetime_s))
        drop_cookie(response, request, LOGIN_COOKIE)
        return response

    async def _check_pin(self, request: Request, staff_id: str, pin: str) -> None:
        address = request.client.host if request.client else "unknown"
        wait_s = self.limit.retry_after_s(address)
        if wait_s is not None:
            raise Refused("rate_limited", f"too many wrong tokens or PINs from this address; retry after "
                          f"{wait_s} s", retry_after_s=wait_s)
        wait_s = self.pin_lock.retry_after_s(staff_id)
        if wait_s is not None:
            raise Refused("pin_locked", f"staff {staff_id} is locked after too many wrong PINs; retry after "
                          f"{wait_s} s", retry_after_s=wait_s)
        member = self.app.roster_member(staff_id)
        if member is None:
            self.limit.failed(address)
            raise Refused("unknown_staff", f"staff id {staff_id} is not on this unit's roster")
        if not member.pin_hash:
            raise Refused("no_pin", f"staff {staff_id} has no PIN yet: the centre sets one "
                          f"(centre staff set-pin {staff_id})")
        if await self.pins.matches(pin, member.pin_hash):
            self.pin_lock.succeeded(staff_id)
            self.badges.pin_verified(staff_id)      # their card signs them in for the rest of the day
            return
        self.limit.failed(address)
        self.pin_lock.failed(staff_id)
        wait_s = self.pin_lock.retry_after_s(staff_id)
        if wait_s is not None:
            raise Refused("pin_locked", f"wrong PIN; staff {staff_id} is locked for {wait_s} s",
                          retry_after_s=wait_s)
        raise Refused("wrong_pin", "wrong staff id or PIN", tries_left=self.pin_lock.tries_left(staff_id))

    async def sign_out(self, request: Request) -> Response:
        try:
            refuse_cross_site(request)
            await self._ready()
            token, session = session_or_refuse(request, self.sessions, self.still_signed_in)
            refuse_bad_csrf(request, session)
            await read_body(request, Body)
            events = await self.app.sign_out()            # as POST /v1/staff/sign-out
        except Refused as refused:
            return refusal_answer(refused)
        self.sessions.end(token)
        response = answer({"signed_in": False, "events": _types(events), "say": "已签退"})
        drop_cookie(response, request, SESSION_COOKIE)
        return response

    # --- the counter's work --------------------------------------------------------------------

    def queue_action(self, name: str, said: Callable[[dict[str, Any]], str]) -> Act:
        async def act(request: Request, session: ConsoleSession) -> dict[str, Any]:
            await read_body(request, Body)
            result = await self.app.queue.act(name)       # as POST /v1/queue/call-next, recall, no-show
            return {**result, "say": said(result)}
        return act

    async def transfer(self, request: Request, session: ConsoleSession) -> dict[str, Any]:
        body = await read_body(request, TransferTarget)
        if body.to_counter is not None and body.to_counter == self.app.settings.unit.counter_id:
            raise Refused("invalid", "a ticket cannot be transferred to its own counter", field="to_counter",
                          say="不能转给本窗口")
        result = await self.app.queue.act("transfer", to_counter=body.to_counter, to_category=body.to_category)
        if body.to_counter is not None:
            where = f"{body.to_counter}号窗口"
        else:
            where = next((c.name for c in self.app.queue.rules.categories if c.letter == body.to_category),
                         body.to_category)
        return {**result, "say": f"{result['ticket']} 已转至{where}"}

    async def complete(self, request: Request, session: ConsoleSession) -> dict[str, Any]:
        await read_body(request, Body)
        transaction_id = await self.app.complete_transaction()   # as POST /v1/transactions/complete
        return {"transaction_id": transaction_id, "say": "已办结，请群众评价"}

    async def pause(self, request: Request, session: ConsoleSession) -> dict[str, Any]:
        body = await read_body(request, PauseBody)
        events = await self.app.pause(body.reason)        # as POST /v1/counter/pause
        return {"paused": True, "events": _types(events), "say": "已暂停服务"}

    async def resume(self, request: Request, session: ConsoleSession) -> dict[str, Any]:
        await read_body(request, Body)
        events = await self.app.resume()                  # as POST /v1/counter/resume
        return {"paused": False, "events": _types(events), "say": "已恢复服务"}

    async def notice(self, request: Request, session: ConsoleSession) -> dict[str, Any]:
        body = await read_body(request, NoticeBody)
        result = await self.app.queue.print_notice(body.service_item)   # as POST /v1/notices/print
        return {**result, "say": f"已打印《{result['name']}》一次性告知单 {result['copies']} 份"}

    # --- what the page reads ------------------------------------------------------------------

    def view_for(self, token: str) -> dict[str, Any]:
        session = self.sessions.get(token)
        if session is None:
            return {"session": "ended", "text": "登录已结束（已签退或已过期），请重新登录"}
        if not self.still_signed_in(session):
            return {"session": "ended", "text": "本窗口已签退或已由其他工作人员签到，请重新登录"}
        return {"session": "active", **console_snapshot(self.app, self.watch)}

    async def state(self, request: Request, session: ConsoleSession, token: str) -> Response:
        return answer(self.view_for(token))

    async def stream(self, request: Request, session: ConsoleSession, token: str) -> Response:
        response = event_stream(request, self.app.changes, lambda: self.view_for(token), self.slots)
        response.body_iterator = self.watch.viewing(response.body_iterator)
        return response

    async def service_items(self, request: Request, session: ConsoleSession, token: str) -> Response:
        query = request.query_params.get("q", "").strip()[:64].casefold()
        items, source = await asyncio.to_thread(current_service_items, self.app.settings.state_dir)
        found = [item for item in items.values()
                 if not query or query in item.code.casefold() or query in item.name.casefold()]
        return answer({"source": source, "total": len(found), "items": [
            {"code": item.code, "name": item.name, "category": item.category, "time_limit": item.time_limit}
            for item in found[:MAX_SEARCH_RESULTS]]})

    def routes(self) -> list[ApiRoute]:
        cookie = " (console: session cookie; changes carry X-CSRF-Token)"

        def post(path: str, act: Act, summary: str, body: type[Body] = Body) -> ApiRoute:
            return ApiRoute("POST", f"/console/api/{path}", self.changing(act), summary + cookie, body=body,
                            public=True)

        def get(path: str, handler, summary: str, media_type: str = "application/json", **kwargs) -> ApiRoute:
            return ApiRoute("GET", path, handler, summary, media_type=media_type, public=True, **kwargs)

        return [
            get("/console/", self.page("index.html"), "The staff console (HTML)", STATIC["index.html"]),
            get("/console/console.css", self.page("console.css"), "The console's style sheet", STATIC["console.css"]),
            get("/console/console.js", self.page("console.js"), "The console's script", STATIC["console.js"]),
            get("/console/api/session", self.session_info,
                "Who is signed in on this console, and the CSRF token for the next change"),
            ApiRoute("POST", "/console/api/sign-in", self.sign_in,
                     "Sign in with staff id and PIN (the sign-in's CSRF token: X-CSRF-Token, matching its cookie)",
                     body=SignInBody, public=True),
            ApiRoute("POST", "/console/api/sign-out", self.sign_out, "签退: sign out at the counter" + cookie,
                     body=Body, public=True),
            post("call-next", self.queue_action("call_next", _ticket_said("已呼叫")), "呼叫下一位"),
            post("recall", self.queue_action("recall", _ticket_said("已重呼")), "重呼"),
            post("no-show", self.queue_action("no_show", _ticket_said("已过号")), "过号"),
            post("transfer", self.transfer, "转移: to a counter or a category", TransferTarget),
            post("complete", self.complete, "办结: open the rating window"),
            post("pause", self.pause, "暂停服务 with a reason", PauseBody),
            post("resume", self.resume, "恢复服务"),
            post("notice", self.notice, "打印告知单", NoticeBody),
            get("/console/api/state", self.reading(self.state), "What the console shows" + cookie),
            get("/console/api/stream", self.reading(self.stream),
                "What the console shows, as server-sent events whenever it changes" + cookie, "text/event-stream"),
            get("/console/api/service-items", self.reading(self.service_items),
                "Service items whose code or name holds q" + cookie,
                parameters=(Parameter("q", "query", {"type": "string", "maxLength": 64}),)),
        ]


def _ticket_said(verb: str) -> Callable[[dict[str, Any]], str]:
    def said(result: dict[str, Any]) -> str:
        if result.get("event") == EventType.TICKET_NO_SHOW and verb == "已重呼":
            return f"{result['ticket']} 重呼次数已满，已记为过号"   # queue.no_show_after_recalls
        return f"{result['ticket']} {verb}"
    return said


def console_routes(app: Any, limit: BadTokenLimit, slots: StreamSlots) -> list[ApiRoute]:
    return Console(app, limit, slots).routes()
