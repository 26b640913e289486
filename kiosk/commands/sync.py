"""`kiosk sync --once`: drain the backlog to the centre now and say how it went.

It respects the one-writer rule of the event store: when the service is running it holds the store,
so the command asks the service (local API POST /v1/sync/drain) to drain instead of opening the
file itself.
"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any, TextIO

import requests

from sync.client import CentreClient, CentreRefused, CentreUnreachable, Outcome
from sync.paths import CENTRE_FILE_NAME
from sync.progress import ProgressBar
from sync.provision import Provisioning, ProvisioningBroken, load_provisioning
from sync.uploader import DrainResult

from kiosk.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from kiosk.commands.local_api import running_api_url
from kiosk.config import Settings
from kiosk.events import EventStore, StoreBusy, StoreError, store_in_use
from kiosk.paths import events_db
from kiosk.service.sync_link import unit_uploader

LOCAL_API_CONNECT_TIMEOUT_S = 5.0
# A drain by the service covers the whole backlog (100,000 events is ~200 batches); the local
# call waits that long, but not forever.
LOCAL_DRAIN_TIMEOUT_S = 900.0
DRAIN_PATH = "/v1/sync/drain"


def sync_once_command(settings: Settings, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Non-zero if the centre could not be reached or refused."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        provisioning = load_provisioning(settings.state_dir)
    except ProvisioningBroken as error:
        print(f"kiosk sync: {error}", file=err)
        return EXIT_USAGE
    if provisioning is None:
        print(f"kiosk sync: this unit is not provisioned ({settings.state_dir} has no "
              f"{CENTRE_FILE_NAME}); run `kiosk provision` first", file=err)
        return EXIT_USAGE
    db_path = events_db(settings.state_dir)
    if store_in_use(db_path):
        return _drain_through_service(settings, out, err)
    if not db_path.exists():
        # Nothing to send (and no stream to heartbeat for), but the technician still learns
        # whether the centre answers and takes this unit's token.
        return _check_centre(settings, provisioning, db_path, out, err)
    try:
        result = asyncio.run(_drain_here(settings, provisioning, err))
    except StoreBusy:
        # The service started between the check and the open: let it do the work.
        return _drain_through_service(settings, out, err)
    except StoreError as error:
        print(f"kiosk sync: cannot use the event store: {error}", file=err)
        return EXIT_FAILED
    return _report(result.to_dict(), out, err)


async def _drain_here(settings: Settings, provisioning: Provisioning, err: TextIO) -> DrainResult:
    store = await EventStore.open(events_db(settings.state_dir))
    uploader = unit_uploader(store, provisioning, settings.sync)
    bar = ProgressBar(err)
    try:
        return await uploader.drain_once(progress=bar)
    finally:
        bar.finish()
        uploader.close()
        await store.close()


def _check_centre(settings: Settings, provisioning: Provisioning, db_path: Path, out: TextIO,
                  err: TextIO) -> int:
    client = CentreClient(provisioning.centre_url, unit_id=provisioning.unit_id,
                          unit_token=provisioning.unit_token,
                          ca_file=settings.sync.ca_file or provisioning.ca_file, timeout_s=settings.sync.timeout_s)
    try:
        client.fetch_bundle(None)
    except CentreUnreachable as error:
        print(f"kiosk sync: {error.message}", file=err)
        return EXIT_FAILED
    except CentreRefused as error:
        if error.status in (401, 403):
            print(f"kiosk sync: the centre refused this unit: {error}", file=err)
            return EXIT_FAILED
        # Any other answer (404 no_bundle, say) came from a centre that accepted the token.
    finally:
        client.close()
    print(f"no event store at {db_path} yet: nothing to send; the centre answers and accepts this unit",
          file=out)
    return EXIT_OK


def _drain_through_service(settings: Settings, out: TextIO, err: TextIO) -> int:
    url = running_api_url(settings) + DRAIN_PATH
    print(f"the kiosk service holds the event store; asking it to drain ({url})", file=err)
    try:
        response = requests.post(url, headers={"Authorization": f"Bearer {settings.api.token}"},
                                 timeout=(LOCAL_API_CONNECT_TIMEOUT_S, LOCAL_DRAIN_TIMEOUT_S))
    except requests.RequestException as error:
        print(f"kiosk sync: the service holds the store but its API at {url} does not answer: {error}",
              file=err)
        return EXIT_FAILED
    with response:
        try:
            body = response.json()
        except ValueError:
            body = None
    if response.status_code == 200 and isinstance(body, dict) and "outcome" in body:
        return _report(body, out, err)
    error = body.get("error") if isinstance(body, dict) else None
    detail = (f"{error.get('code')}: {error.get('message')}" if isinstance(error, dict)
              else response.text[:200])
    hint = {401: " (is api.token in this config the service's?)",
            404: " (the running service is older and has no sync endpoint; restart it)"}.get(response.status_code, "")
    print(f"kiosk sync: the service refused the drain: HTTP {response.status_code} {detail}{hint}", file=err)
    return EXIT_FAILED


def _report(result: dict[str, Any], out: TextIO, err: TextIO) -> int:
    print(f"sent {result.get('sent', 0)} events ({result.get('duplicates', 0)} already at the centre); "
          f"centre holds through seq {result.get('acked_through')}; backlog left {result.get('backlog')}",
          file=out)
    if result.get("outcome") == Outcome.OK:
        return EXIT_OK
    print(f"kiosk sync: {result.get('outcome')}: {result.get('error') or 'no details'}", file=err)
    return EXIT_FAILED
