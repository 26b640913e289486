"""The migrations build exactly the models' schema; times come back in UTC; raw JSON slicing."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st

from centre.bodies import raw_array_items
from centre.db import Database
from centre.migrate import head_revision, upgrade_to_head
from centre.models import Base, Unit

pytestmark = pytest.mark.timeout(60)


def test_migrations_create_the_models_schema(db_url):
    db = Database(db_url)
    try:
        assert upgrade_to_head(db.engine) == head_revision()
        assert upgrade_to_head(db.engine) == head_revision()  # nothing to do the second time
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        db.dispose()


def test_times_are_stored_and_read_back_as_utc(db_url):
    db = Database(db_url)
    try:
        upgrade_to_head(db.engine)
        in_beijing = datetime(2026, 11, 23, 9, 14, 3, 512000, tzinfo=timezone(timedelta(hours=8)))
        with db.transaction() as session:
            session.add(Unit(unit_id="u1", role="counter", counter_id="1", created_at=in_beijing))
        with db.transaction() as session:
            created = session.get(Unit, "u1").created_at
        assert created == in_beijing and created.tzinfo == timezone.utc
        with pytest.raises(Exception, match="naive"):
            with db.transaction() as session:
                session.add(Unit(unit_id="u2", role="counter", created_at=datetime(2026, 1, 1)))
    finally:
        db.dispose()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)
layouts = st.sampled_from([
    {"separators": (",", ":")}, {"indent": 2}, {"ensure_ascii": False}, {"separators": (" , ", " :  ")},
])


@settings(max_examples=200, deadline=None)
@given(items=st.lists(json_values, max_size=6), before=st.dictionaries(st.text(), json_values, max_size=3),
       layout=layouts)
def test_raw_array_items_gives_each_elements_exact_text(items, before, layout):
    texts = [json.dumps(item, **layout) for item in items]
    members = [f"{json.dumps(k)}: {json.dumps(v, **layout)}" for k, v in before.items() if k != "events"]
    document = "{ " + ", ".join(members + ['"events" :\n[' + " ,\n".join(texts) + "]"]) + " }"
    found = raw_array_items(document, "events")
    assert found == texts
    assert [json.loads(text) for text in found] == json.loads(document)["events"]


def test_raw_array_items_follows_json_loads_on_repeated_and_missing_keys():
    assert raw_array_items('{"events": [1], "events": [2, 3]}', "events") == ["2", "3"]
    assert raw_array_items('{"events": [1], "events": null}', "events") is None
    assert raw_array_items('{"other": [1]}', "events") is None
    assert raw_array_items("[1, 2]", "events") is None
