"""What a console request must pass before it acts, and the cookies it is given.

A change (every POST) is refused unless it comes from the console's own origin and carries the
right CSRF token, three locks of which any one stops a page on another site:
- SameSite=Strict: the browser does not send the session cookie with a request another site starts;
- the Origin header (or, without one, Sec-Fetch-Site) must name this unit as the page's origin;
- the CSRF token (header X-CSRF-Token): the session's own, or before sign-in the one a cookie
  holds (double submit), which another site can neither read nor set.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from kiosk.console.sessions import ConsoleSession, Sessions, same_secret
from kiosk.refusals import Refused

SESSION_COOKIE = "console_session"
LOGIN_COOKIE = "console_login"
CSRF_HEADER = "x-csrf-token"
COOKIE_PATH = "/console/"


def refuse_cross_site(request: Request) -> None:
    """Refused("cross_site") unless the request comes from a page of this unit (a client that is
    not a browser sends neither header, and still needs the CSRF token)."""
    origin = request.headers.get("origin")
    if origin is not None:
        parts = urlsplit(origin)
        host = request.headers.get("host", "")
        if parts.scheme not in ("http", "https") or parts.netloc.lower() != host.lower() or not host:
            raise Refused("cross_site", f"a change from the page of {origin!r} is refused: the console's "
                          "requests come from the console's own page")
        return
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise Refused("cross_site", f"a change from a {site} page is refused")


def refuse_bad_login_token(request: Request) -> None:
    if not same_secret(request.headers.get(CSRF_HEADER), request.cookies.get(LOGIN_COOKIE) or ""):
        raise Refused("csrf_failed", "the sign-in needs the token the console page was given "
                      "(X-CSRF-Token, matching its cookie); reload the page")


def session_or_refuse(request: Request, sessions: Sessions, still_signed_in) -> tuple[str, ConsoleSession]:
    """The request's session, if it has one that is still good; Refused("no_session") otherwise.
    `still_signed_in(session)`: the counter's sign-in it was made for is still the one in force."""
    token = request.cookies.get(SESSION_COOKIE)
    session = sessions.get(token)
    if session is None:
        raise Refused("no_session", "sign in on the console first (no session, or it expired)")
    if not still_signed_in(session):
        sessions.end(token)
        raise Refused("no_session", f"staff {session.staff_id} is no longer signed in at this counter; "
                      "sign in again")
    return token, session


def refuse_bad_csrf(request: Request, session: ConsoleSession) -> None:
    if not same_secret(request.headers.get(CSRF_HEADER), session.csrf):
        raise Refused("csrf_failed", "a change needs the session's CSRF token (X-CSRF-Token); reload the page")


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, httponly=True, samesite="strict",
                        secure=_secure(request))


def drop_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, httponly=True, samesite="strict", secure=_secure(request))
