"""Admin endpoints (Authorization: Bearer <admin token>): fleet health, audit trail, bundle, photos.

With no admin token configured every one of them answers 403 admin_disabled.
"""
from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from centre.units.bundle import (
    MAX_PHOTO_BYTES, PHOTO_SIGNATURES, bundle_warnings, current_bundle, photo_problem, store_bundle,
    store_photo,
)
from centre.units.fleet import audit_events, fleet_health, unit_streams
from centre.units.schemas import IDENTIFIER_PATTERN, Bundle
from centre.web.auth import admin_only
from centre.web.bodies import parse_body
from centre.web.endpoints import cached_response, in_transaction, utcnow
from centre.web.errors import ApiError
from centre.web.fields import INT64_MAX
from centre.web.openapi import NOT_MODIFIED, binary_body, json_body


router = APIRouter(dependencies=[Depends(admin_only)])

MAX_AUDIT_PAGE = 1000


@router.get("/api/v1/units")
async def list_units(request: Request) -> dict:
    return {"units": await in_transaction(request, fleet_health)}


@router.get("/api/v1/units/{unit_id}/streams")
async def list_streams(unit_id: str, request: Request) -> dict:
    streams = await in_transaction(request, lambda session: unit_streams(session, unit_id))
    return {"unit_id": unit_id, "streams": streams}


@router.get("/api/v1/units/{unit_id}/events")
async def list_events(unit_id: str, request: Request,
                      after_seq: int = Query(0, ge=0, le=INT64_MAX),
                      limit: int = Query(100, ge=1, le=MAX_AUDIT_PAGE),
                      stream_id: str | None = Query(None, max_length=64)) -> Response:
    stream_id, raws = await in_transaction(
        request, lambda session: audit_events(session, unit_id, stream_id, after_seq, limit))
    # Built by hand so every event goes out byte for byte as the unit sent it.
    head = json.dumps({"unit_id": unit_id, "stream_id": stream_id}, ensure_ascii=False)
    body = head[:-1] + ', "events": [' + ", ".join(raws) + "]}"
    return Response(body.encode("utf-8"), media_type="application/json")


@router.put("/api/v1/bundle", openapi_extra=json_body(Bundle))
async def put_bundle(request: Request) -> dict:
    bundle = parse_body(Bundle, await request.body())
    now = utcnow()
    version, changed = await in_transaction(request, lambda session: store_bundle(session, bundle, now))
    return {"version": version, "changed": changed,
            "warnings": [warning.as_json() for warning in bundle_warnings(bundle)]}


@router.get("/api/v1/bundle", responses=NOT_MODIFIED)
async def get_bundle(request: Request) -> Response:
    bundle = await in_transaction(request, current_bundle)
    if bundle is None:
        raise ApiError(404, "no_bundle", "the centre has no bundle yet")
    return cached_response(bundle.body, bundle.etag, "application/json", request)


@router.put("/api/v1/staff/{staff_id}/photo", openapi_extra=binary_body(*PHOTO_SIGNATURES))
async def put_photo(request: Request,
                    staff_id: str = Path(max_length=64, pattern=IDENTIFIER_PATTERN)) -> dict:
    data = await request.body()
    if len(data) > MAX_PHOTO_BYTES:
        raise ApiError(413, "too_large", f"a photo is at most {MAX_PHOTO_BYTES} bytes")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    problem = photo_problem(content_type, data)
    if problem is not None:
        raise ApiError(415, "unsupported_media_type", problem)
    now = utcnow()
    photo = await in_transaction(
        request, lambda session: store_photo(session, staff_id, content_type, data, now))
    return {"staff_id": staff_id, "sha256": photo.sha256, "bytes": len(data)}
