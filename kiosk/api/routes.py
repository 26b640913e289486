"""A route that describes itself: the handler and what the OpenAPI document says of it, in one
place, so the document (`kiosk.api.openapi`) is built from the routes the app really has."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import Route

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Parameter:
    name: str
    where: str              # "query" or "path"
    schema: dict[str, Any]
    required: bool = False


class KeyNumber(Convertor[int]):
    """A key's number in a path, `{key:key_number}`: a few digits. Starlette's own `int` takes any
    number of digits and fails with a 500 on one longer than Python converts (5,000 digits)."""
    regex = "[0-9]{1,9}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("key_number", KeyNumber())

KEY = Parameter("key", "path", {"type": "integer", "minimum": 1, "maximum": 5}, required=True)


class ApiRoute(Route):
    def __init__(self, method: str, path: str, handler: Handler, summary: str, *,
                 body: type[BaseModel] | None = None, parameters: tuple[Parameter, ...] = (),
                 media_type: str = "application/json", public: bool = False,
                 responses: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(path, handler, methods=[method])
        self.method = method
        self.summary = summary
        self.body = body                # the model the handler validates its body with
        self.parameters = parameters
        self.media_type = media_type    # of a success
        self.public = public            # no token needed
        self.responses = responses      # (status, description) beside 200 and the errors

    def handled_by(self, handler: Handler) -> "ApiRoute":
        """The same route, described the same, answered by `handler` (e.g. the original behind a
        token check)."""
        return ApiRoute(self.method, self.path, handler, self.summary, body=self.body,
                        parameters=self.parameters, media_type=self.media_type, public=self.public,
                        responses=self.responses)
