"""Ed25519 unit keys and the signature over a batch's head (PROTOCOL.md, "Enrolment", "Uploading")."""
from __future__ import annotations

import base64

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def head_message(stream_id: str, last_seq: int, last_hash: str) -> bytes:
    return f"{stream_id}:{last_seq}:{last_hash}".encode("utf-8")


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key_pem(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the unit key is not an Ed25519 key")
    return key


def public_key_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def load_public_key_b64(text: str) -> Ed25519PublicKey:
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def sign_head(key: Ed25519PrivateKey, stream_id: str, last_seq: int, last_hash: str) -> str:
    return base64.b64encode(key.sign(head_message(stream_id, last_seq, last_hash))).decode("ascii")


def verify_head(public_key: Ed25519PublicKey, signature_b64: str, stream_id: str, last_seq: int,
                last_hash: str) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, head_message(stream_id, last_seq, last_hash))
    except (InvalidSignature, ValueError):
        return False
    return True
