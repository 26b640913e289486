"""The centre's web application: `create_app(db_url, admin_token)`."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from centre.api.admin import router as admin_router
from centre.api.ledger import router as ledger_router
from centre.api.reports import router as reports_router
from centre.api.units import router as units_router
from centre.dashboard.ledger_pages import router as dashboard_ledger_router
from centre.dashboard.pages import root_router as dashboard_root_router
from centre.dashboard.pages import router as dashboard_router
from centre.dashboard.complaint_pages import router as dashboard_complaint_router
from centre.dashboard.platform_pages import router as dashboard_platform_router
from centre.dashboard.templating import STATIC_DIR
from centre.public.routes import install_public_pages
from centre.storage.db import Database
from centre.storage.migrate import upgrade_to_head
from centre.web.bodies import DEFAULT_MAX_BODY_BYTES, BodySizeLimit
from centre.web.errors import install_error_handlers
from centre.web.openapi import ERROR_RESPONSES
from centre.web.ratelimit import BadTokenLimit


def create_app(db_url: str, admin_token: str | None = None, *,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> FastAPI:
    """The app on the database at `db_url`, its schema migrated to the newest revision first.

    Admin endpoints need `admin_token`; with None (or "") they are refused with 403 admin_disabled.
    """
    db = Database(db_url)
    try:
        upgrade_to_head(db.engine)
    except BaseException:
        db.dispose()
        raise

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        db.dispose()

    # No generated docs: the contract is PROTOCOL.md, and this server faces the units' network.
    # app.openapi() still builds the document (centre/web/openapi.py), for the tests that fuzz the API.
    app = FastAPI(title="centre", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None,
                  responses=ERROR_RESPONSES)
    app.state.db = db
    app.state.admin_token = admin_token or None
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    # Added last, so outermost: a client over the limit is refused before its body is read.
    app.add_middleware(BadTokenLimit)
    install_error_handlers(app)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    app.include_router(units_router)
    app.include_router(admin_router)
    app.include_router(reports_router)
    app.include_router(ledger_router)
    app.include_router(dashboard_root_router)
    app.include_router(dashboard_router)
    app.include_router(dashboard_ledger_router)
    app.include_router(dashboard_platform_router)
    app.include_router(dashboard_complaint_router)
    # The dashboard's CSS and Chart.js, served from the package: the pages need no internet.
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # The citizen's phone pages (/t/…): their own limits and static folder, no session of the dashboard.
    install_public_pages(app)
    return app
