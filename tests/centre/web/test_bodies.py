"""Request bodies: the exact source text of each element of a JSON array (what keeps events as sent)."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centre.web.bodies import raw_array_items

pytestmark = pytest.mark.timeout(60)


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
