"""Migration 0010 indexes the references of tickets stored before it, by the rule new ones follow."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from centre.storage.migrate import upgrade_to_head
from tests.centre.storage.test_migrate import old_event, old_unit, older_database

pytestmark = pytest.mark.timeout(60)

REF = "Qm9va2VkLXRpY2tldC1yZWY"


def test_tickets_stored_before_get_their_reference_indexed_on_upgrade(db_url):
    with older_database(db_url, "0009") as db:
        with db.engine.begin() as connection:
            old_unit(connection, "host")
            for seq, ref in enumerate((REF, "short", None, REF), start=1):
                old_event(connection, seq, "ticket.issued", unit_id="host")
                data = {"ticket": f"A00{seq}"} | ({} if ref is None else {"ref": ref})
                connection.execute(text("UPDATE events SET raw_json = :raw WHERE seq = :seq"),
                                   {"raw": json.dumps({"data": data}), "seq": seq})
        upgrade_to_head(db.engine)
        with db.engine.connect() as connection:
            rows = connection.execute(text("SELECT ref, unit_id, stream_id, seq FROM ticket_refs")).all()
        assert [tuple(row) for row in rows] == [(REF, "host", "host", 1)]
