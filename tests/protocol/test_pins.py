"""PIN hashes as the bundle and a roster carry them: scrypt, salted, bounded."""
from __future__ import annotations

import pytest

from protocol.pins import PinHashError, check_pin_hash, hash_pin, parse_pin_hash, pin_problem, verify_pin


def test_a_pin_hash_verifies_its_pin_only_and_is_salted():
    first, second = hash_pin("135790"), hash_pin("135790")
    assert first != second and first.startswith("$scrypt$ln=15,r=8,p=1$")
    assert "135790" not in first
    assert verify_pin("135790", first) and verify_pin("135790", second)
    assert not verify_pin("135791", first) and not verify_pin("", first)
    assert check_pin_hash(first) == first


@pytest.mark.parametrize("text", [
    "", "135790", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
    "$scrypt$ln=30,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # 2**30: gigabytes
    "$scrypt$ln=17,r=16,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # 256 MiB
    "$scrypt$ln=15,r=8,p=9$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "$scrypt$ln=15,r=8,p=1$!!!!AAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 5000,
])
def test_a_hash_outside_the_bounds_is_refused_and_never_matches(text):
    with pytest.raises(PinHashError):
        parse_pin_hash(text)
    assert verify_pin("135790", text) is False


@pytest.mark.parametrize("pin, allowed", [
    ("135790", True), ("20261123", True), ("024680", True), ("123456", False), ("654321", False),
    ("111111", False), ("12345", False), ("1234567890123", False), ("13579a", False), ("", False),
    ("１３５７９０", False),   # full-width digits
])
def test_the_pin_rule(pin, allowed):
    assert (pin_problem(pin) is None) == allowed
