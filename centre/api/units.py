"""Endpoints units call: enrolment, event upload, the bundle, staff photos (PROTOCOL.md)."""
from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from centre.storage.models import StaffPhoto
from centre.units.bundle import PHOTO_SIGNATURES, current_bundle
from centre.units.enrolment import enrol
from centre.units.schemas import EnrolAnswer, EnrolRequest, UploadBatch
from centre.units.upload import receive_upload
from centre.web.auth import authenticate_any_unit, authenticate_unit, is_admin
from centre.web.bodies import parse_body
from centre.web.endpoints import cached_response, database, in_transaction, utcnow
from centre.web.errors import ApiError
from centre.web.openapi import NOT_MODIFIED, json_body

router = APIRouter()


@router.post("/api/v1/enrol", status_code=201, openapi_extra=json_body(EnrolRequest),
             responses={201: {"model": EnrolAnswer, "description": "enrolled: the unit's token, role and counter"}})
async def enrol_unit(request: Request) -> JSONResponse:
    asked = parse_body(EnrolRequest, await request.body())
    now = utcnow()
    enrolled = await in_transaction(request, lambda session: enrol(
        session, asked.token, asked.unit_id, asked.public_key, now, role=asked.role,
        counter_id=asked.counter_id))
    answer = EnrolAnswer(unit_token=enrolled.unit_token, role=enrolled.role, counter_id=enrolled.counter_id)
    return JSONResponse(answer.model_dump(), status_code=201)


@router.post("/api/v1/units/{unit_id}/events", openapi_extra=json_body(UploadBatch))
async def upload_events(unit_id: str, request: Request) -> dict:
    received_at = utcnow()  # before the body is read: clock offsets should not include its upload
    body = await request.body()
    result = await run_in_threadpool(receive_upload, database(request), unit_id,
                                     request.headers.get("authorization"), body, received_at)
    return {"acked_through": result.acked_through, "stored": result.stored,
            "duplicates": result.duplicates}


@router.get("/api/v1/units/{unit_id}/bundle", responses=NOT_MODIFIED)
async def unit_bundle(unit_id: str, request: Request) -> Response:
    def work(session):
        authenticate_unit(session, unit_id, request.headers.get("authorization"))
        return current_bundle(session)

    bundle = await in_transaction(request, work)
    if bundle is None:
        raise ApiError(404, "no_bundle", "the centre has no bundle yet (centre bundle load FILE)")
    return cached_response(bundle.body, bundle.etag, "application/json", request)


@router.get("/api/v1/staff/{staff_id}/photo", response_class=Response,
            responses={200: {"content": {media_type: {} for media_type in PHOTO_SIGNATURES}}, **NOT_MODIFIED})
async def staff_photo(staff_id: str, request: Request) -> Response:
    authorization = request.headers.get("authorization")

    def work(session) -> StaffPhoto | None:
        if not is_admin(request.app.state.admin_token, authorization):
            authenticate_any_unit(session, authorization)
        return session.get(StaffPhoto, staff_id)

    photo = await in_transaction(request, work)
    if photo is None:
        raise ApiError(404, "no_photo", f"no photo of staff {staff_id}")
    return cached_response(photo.data, f'"{photo.sha256[:32]}"', photo.content_type, request)
