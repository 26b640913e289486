"""A fake 好差评 platform: a real HTTP server on 127.0.0.1 that takes each record once by its
Idempotency-Key, checks the HMAC signature or token, and misbehaves at random as real ones do:
it refuses (503, keeping nothing), keeps a record but answers only after the client gave up
(a timeout), or keeps it and answers 500 (so the same record comes again: the second answer is
409, already held)."""
from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

MISBEHAVIOURS = ("refuse", "timeout", "answer_twice")


@dataclass
class FakePlatform:
    url: str
    secret: str
    accepted: list[dict[str, Any]] = field(default_factory=list)  # each record the first time its key came
    keys: set[str] = field(default_factory=set)
    requests: int = 0
    again: int = 0  # requests for a key already held
    misbehaved: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MISBEHAVIOURS, 0))
    bad_auth: int = 0


@contextmanager
def fake_platform(*, secret: str = "platform-secret", auth: str = "hmac", misbehave: float = 0.0,
                  late_s: float = 0.5, seed: int = 19, refuse_keys: frozenset[str] = frozenset()
                  ) -> Iterator[FakePlatform]:
    """The platform at .url; `misbehave` is the share of requests it spoils (chosen by `seed`);
    a key in `refuse_keys` is always answered 400 (a record the platform cannot take)."""
    rng = random.Random(seed)
    lock = threading.Lock()
    state = FakePlatform(url="", secret=secret)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _answer(self, status: int, document: dict[str, Any]) -> None:
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up waiting

        def _authorised(self, body: bytes) -> bool:
            if auth == "token":
                return hmac.compare_digest(self.headers.get("Authorization", ""), f"Bearer {secret}")
            timestamp = self.headers.get("X-Timestamp", "")
            expected = hmac.new(secret.encode(), timestamp.encode() + b"\n" + body, hashlib.sha256).hexdigest()
            return hmac.compare_digest(self.headers.get("X-Signature", ""), expected)

        def do_POST(self) -> None:
            body = self.rfile.read(min(int(self.headers.get("Content-Length", "0")), 1 << 20))
            key = self.headers.get("Idempotency-Key", "")
            with lock:
                state.requests += 1
                if not self._authorised(body):
                    state.bad_auth += 1
                    return self._answer(401, {"error": "bad signature"})
                if key in refuse_keys:
                    return self._answer(400, {"error": "record refused"})
                spoil = rng.choice(MISBEHAVIOURS) if rng.random() < misbehave else None
                if spoil is not None:
                    state.misbehaved[spoil] += 1
                if spoil == "refuse":
                    return self._answer(503, {"error": "busy"})
                if key in state.keys:
                    state.again += 1
                    held = True
                else:
                    state.keys.add(key)
                    state.accepted.append(json.loads(body))
                    held = False
            if spoil == "timeout":
                time.sleep(late_s)
                return self._answer(200, {"ok": True})
            if spoil == "answer_twice":
                return self._answer(500, {"error": "kept it, but said otherwise"})
            self._answer(409 if held else 200, {"ok": True, "duplicate": held})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/evaluations"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
