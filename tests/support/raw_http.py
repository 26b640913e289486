"""HTTP/1.1 written by hand on a socket, for requests no client library sends: bodies far over a
limit, chunked without end, headers a byte at a time; and a process's memory (test helper)."""
from __future__ import annotations

import re
import select
import socket
from dataclasses import dataclass
from pathlib import Path

CHUNK = 64 * 1024
ANSWER_TIMEOUT_S = 10.0


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (the peak so far) of a process, in kB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_answer(sock: socket.socket, timeout_s: float = ANSWER_TIMEOUT_S) -> bytes:
    """What the server answered: its head and as much of its body as its Content-Length says;
    b"" if it closed or reset the connection without an answer."""
    data = b""
    sock.settimeout(timeout_s)
    try:
        while b"\r\n\r\n" not in data:
            piece = sock.recv(65536)
            if not piece:
                return data
            data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
        while length and len(body) < int(length.group(1)):
            piece = sock.recv(65536)
            if not piece:
                break
            body += piece
        return head + b"\r\n\r\n" + body
    except (ConnectionResetError, socket.timeout):
        return data


@dataclass
class Sent:
    answer: bytes      # the answer, b"" if none came
    body_bytes: int    # how much of the body was sent before the server answered or closed


def send_chunked_until_answered(address: tuple[str, int], method: str, path: str,
                                headers: dict[str, str], total_bytes: int) -> Sent:
    """A chunked body of up to `total_bytes` (spaces), sent as fast as the server takes it until it
    answers or closes the connection; the last chunk only if it never did."""
    sent = 0
    with socket.create_connection(address, timeout=ANSWER_TIMEOUT_S) as sock:
        sock.sendall(request_head(method, path, {**headers, "Transfer-Encoding": "chunked"}))
        chunk = f"{CHUNK:x}\r\n".encode() + b" " * CHUNK + b"\r\n"
        while sent < total_bytes:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break  # read the answer now: more data after the server closed would reset it
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += CHUNK
        else:
            sock.sendall(b"0\r\n\r\n")
        return Sent(read_answer(sock), sent)


def send_head_only(address: tuple[str, int], method: str, path: str, headers: dict[str, str]) -> bytes:
    """A request head that declares a body (Content-Length) and none of it; the answer."""
    with socket.create_connection(address, timeout=ANSWER_TIMEOUT_S) as sock:
        sock.sendall(request_head(method, path, headers))
        return read_answer(sock)
