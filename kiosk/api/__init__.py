"""The unit's local HTTP API (Starlette): `create_api(app)`. Routes by area (`unit`, `queue`, `sim`),
each describing itself for the OpenAPI document; request bodies in `bodies`; one code → status
table in `errors`."""
from kiosk.api.server import create_api  # noqa: F401
