"""Hypothesis fuzzing (issue 8): config loading, the protocol verifier and the centre's batch checks,
the ticket and notice encoders. Example counts are bounded so the whole file runs in seconds in CI;
FUZZ_EXAMPLES=N runs N examples of each by hand."""
from __future__ import annotations

import base64
import copy
import json
import os
import tomllib
import uuid
from importlib import resources

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from centre.units.batches import parse_batch, verify_batch
from centre.web.errors import ApiError
from kiosk.config import ConfigError, load_settings, settings_from_mapping
from kiosk.tickets.layouts import NoticeText, PrintSetup, TicketText, notice_job, ticket_job
from protocol.chain import canonical_bytes
from tests.support.centre.testkit import SimulatedUnit
from kiosk.simpanel.escpos import Cut, decode
from tests.fault.results import record

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
# database=None: no .hypothesis folder in the work tree; a failure prints its example to replay.
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# --- config -----------------------------------------------------------------------------------

SIM_CONFIG = tomllib.loads(resources.files("kiosk").joinpath("defaults/sim.toml").read_text(encoding="utf-8"))

toml_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                         st.floats(allow_nan=True), st.text(max_size=30))
json_like = st.recursive(toml_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=20)


def leaf_paths(tree, prefix=()):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from leaf_paths(value, (*prefix, key))
    else:
        yield prefix


SIM_LEAVES = [path for path in leaf_paths(SIM_CONFIG) if path]


@st.composite
def mutated_sim_config(draw):
    """The shipped sim config with some of its values replaced by anything: it reaches the
    validators deep inside that a random dict never gets past the first missing section to."""
    raw = copy.deepcopy(SIM_CONFIG)
    for path in draw(st.lists(st.sampled_from(SIM_LEAVES), min_size=1, max_size=4)):
        parent = raw
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = draw(json_like)
    if draw(st.booleans()):
        raw[draw(st.text(max_size=8))] = draw(json_like)
    return raw


def assert_only_config_error(call) -> None:
    try:
        call()
    except ConfigError as error:
        assert str(error)  # the message someone fixing the file reads
    # Anything else propagates and fails the test.


@FUZZ
@given(st.one_of(st.dictionaries(st.text(max_size=12), json_like, max_size=6), mutated_sim_config()))
def test_any_mapping_is_settings_or_config_error(raw):
    assert_only_config_error(lambda: settings_from_mapping(raw, "fuzz"))


@FUZZ
@given(text=st.one_of(st.text(max_size=400), st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
                      st.sampled_from(["[api]\nlisten = 1\n", "[unit]\nrole = \"x\"\n", "a = 1\na = 2\n"])))
def test_any_text_file_is_settings_or_config_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("config") / "unit.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    assert_only_config_error(lambda: load_settings(path))


def test_bytes_that_are_not_utf8_are_a_config_error(tmp_path, request):
    path = tmp_path / "unit.toml"
    path.write_bytes(b"[unit]\nrole = \"\xff\xfe\"\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(path)
    record(request.node.nodeid, f"group: config loading, {EXAMPLES} random mappings + {EXAMPLES} random "
           "files (hypothesis) + this one", {"exceptions other than ConfigError": 0})


# --- protocol verifier and the centre's batch checks --------------------------------------------

UNIT = SimulatedUnit("fuzz-unit")
CHAIN = UNIT.record_many(6)
BATCH = UNIT.batch(CHAIN)
PROTECTED_FIELDS = ("event_id", "stream_id", "seq", "type", "wall_time", "mono_ns", "boot_id",
                    "clock_synced", "data", "prev_hash", "hash")


def centre_accepts_as_new_stream(batch: dict) -> bool:
    """What the centre decides for this batch as the first of its stream, short of the database:
    the body's shape (parse_batch), every hash, the chain and the signature (verify_batch), then
    _store's rule for a stream it does not hold yet (seq 1, empty prev_hash)."""
    text = json.dumps(batch, ensure_ascii=False)
    try:
        parsed = parse_batch(text, json.loads(text))
        verify_batch(parsed, UNIT.public_key)
    except ApiError:
        return False
    return bool(parsed.events) and parsed.events[0]["seq"] == 1 and parsed.events[0]["prev_hash"] == ""


def test_the_unmutated_batch_is_accepted():
    # The control: without it, "never accepted" would also pass if everything were refused.
    assert centre_accepts_as_new_stream(copy.deepcopy(BATCH))


@st.composite
def mutated_batch(draw):
    batch = copy.deepcopy(BATCH)
    events = batch["events"]
    kind = draw(st.sampled_from(["alter", "reorder", "drop", "duplicate", "flip_signature_bit"]))
    if kind == "alter":
        index = draw(st.integers(0, len(events) - 1))
        field = draw(st.sampled_from(PROTECTED_FIELDS))
        value = draw(json_like)
        assume(canonical_bytes(value) != canonical_bytes(events[index].get(field)))
        events[index][field] = value
    elif kind == "reorder":
        order = draw(st.permutations(range(len(events))))
        assume(list(order) != list(range(len(events))))
        batch["events"] = [events[i] for i in order]
    elif kind == "drop":
        dropped = draw(st.sets(st.integers(0, len(events) - 1), min_size=1, max_size=len(events) - 1))
        batch["events"] = [event for i, event in enumerate(events) if i not in dropped]
    elif kind == "duplicate":
        index = draw(st.integers(0, len(events) - 1))
        at = draw(st.integers(0, len(events)))
        events.insert(at, copy.deepcopy(events[index]))
    else:
        raw = bytearray(base64.b64decode(batch["head_sig"]))
        bit = draw(st.integers(0, len(raw) * 8 - 1))
        raw[bit // 8] ^= 1 << (bit % 8)
        batch["head_sig"] = base64.b64encode(bytes(raw)).decode("ascii")
    return kind, batch


@FUZZ
@given(mutated_batch())
def test_a_mutated_signed_chain_is_never_accepted(case):
    kind, batch = case
    assert not centre_accepts_as_new_stream(batch), kind


def test_mutation_kinds_are_all_refused_once(request):
    """One of each mutation, named, so the report shows them (hypothesis draws them at random)."""
    events = copy.deepcopy(BATCH["events"])
    cases = {
        "data altered": {**BATCH, "events": [{**events[0], "data": {**events[0]["data"], "level": 1}},
                                             *events[1:]]},
        "swapped": {**BATCH, "events": [events[1], events[0], *events[2:]]},
        "first dropped": {**BATCH, "events": events[1:]},
        "middle dropped": {**BATCH, "events": events[:2] + events[3:]},
        "last dropped": {**BATCH, "events": events[:-1]},
        "duplicated": {**BATCH, "events": events[:3] + events[2:]},
        "another key": UNIT.batch(events, key=SimulatedUnit("forger").key),
        "another stream id": {**BATCH, "stream_id": str(uuid.uuid4())},
    }
    accepted = [name for name, batch in cases.items() if centre_accepts_as_new_stream(copy.deepcopy(batch))]
    assert accepted == []
    record(request.node.nodeid, f"group: protocol, {EXAMPLES} random mutations of a 6-event signed batch "
           f"(hypothesis) + these {len(cases)}",
           {"accepted": 0})


# --- ticket and notice encoders -------------------------------------------------------------

CONTROL_SPACES = "\t\n\v\f\r"
any_text = st.text(st.one_of(
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),   # CJK unified ideographs
    st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),  # emoji
    st.characters(max_codepoint=0x7F),                            # ASCII, controls included
    st.characters(codec=None),                                    # anything, surrogates too
), max_size=60)


def printable(text: str) -> str:
    """What the printer should print for `text`: C0 controls and DEL as a space or "?" (the
    encoder's rule), characters GB18030 cannot encode (lone surrogates) as "?"."""
    out = []
    for char in text:
        if char in CONTROL_SPACES:
            out.append(" ")
        elif ord(char) < 0x20 or ord(char) == 0x7F or 0xD800 <= ord(char) <= 0xDFFF:
            out.append("?")
        else:
            out.append(char)
    return "".join(out)


def squeezed(text: str) -> str:
    # Wrapping adds line breaks and hanging indents; the characters themselves must all be there.
    return "".join(text.split())


def assert_printed(printout, *texts: str) -> None:
    printed = squeezed("".join(printout.texts))
    for text in texts:
        assert squeezed(printable(text)) in printed, (text, printout.texts)


@FUZZ
@given(ticket=any_text, category=any_text, centre_name=any_text, width=st.sampled_from([58, 80]),
       priority=st.booleans(), ahead=st.integers(0, 999))
def test_any_ticket_text_encodes_and_decodes_back(ticket, category, centre_name, width, priority, ahead):
    setup = PrintSetup(width, centre_name=centre_name)
    job = ticket_job(setup, TicketText(ticket=ticket, category_name=category, priority=priority,
                                       issued_at="2026-11-23T09:30:00.000+08:00", waiting_ahead=ahead,
                                       wait_min=ahead * 3, surge=False))
    assert_printed(decode(job), ticket, category, centre_name)


@FUZZ
@given(name=any_text, category=any_text, time_limit=any_text, materials=st.lists(any_text, max_size=5),
       counter=any_text, width=st.sampled_from([58, 80]), copies=st.integers(1, 2))
def test_any_notice_text_encodes_and_decodes_back(name, category, time_limit, materials, counter, width,
                                                  copies):
    notice = NoticeText(code="TQ01", name=name, category=category, time_limit=time_limit, materials=materials,
                        counter_id=counter, date="2026-11-23")
    assert_printed(decode(notice_job(PrintSetup(width), notice, copies)), name, category, time_limit,
                   counter, *materials)


def test_control_characters_never_reach_the_printer_raw(request):
    """An ESC or GS in a bundle's text would be a printer command; it prints as "?" instead."""
    notice = NoticeText(code="TQ01", name="提取\x1dV\x00公积金", category="", time_limit="5个工作日\n",
                        materials=["身份证\x1b@原件"], counter_id="3", date="2026-11-23")
    printout = decode(notice_job(PrintSetup(58), notice, 1))
    assert printout.inits == 1 and len(printout.of_kind(Cut)) == 1
    assert any("提取?V?公积金" in text for text in printout.texts)
    assert any("身份证?@原件" in text for text in printout.texts)
    record(request.node.nodeid, f"group: printing, {EXAMPLES} tickets + {EXAMPLES} notices of "
           "Chinese/emoji/ASCII-with-controls/any code point (hypothesis) + this one",
           {"crashes": 0, "text lost": 0})
