"""The unit's local HTTP API (Starlette): `create_api(app)`."""
from kiosk.api.server import (  # noqa: F401
    MAX_BODY_BYTES, MAX_EVENTS_PAGE, ApiError, error_response, SignInBody, PauseBody, CompleteBody,
    read_body, create_api,
)
