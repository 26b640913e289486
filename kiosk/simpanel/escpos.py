"""Reads ESC/POS bytes back into what they ask a printer to do: the sim panel draws each printed
slip from it (kiosk.simpanel.receipts), and the tests read every job the unit prints with it.

Only the commands the unit may send are known; anything else (ESC !, ESC t: the library guessing
for us) is an error, so a test fails if such a byte ever slips into a job.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ESC, GS, FS, LF = 0x1B, 0x1D, 0x1C, 0x0A


@dataclass(frozen=True)
class Line:
    text: str
    align: str       # left | center | right
    width: int       # GS ! multipliers
    height: int
    bold: bool


@dataclass(frozen=True)
class QrCode:
    data: str
    module: int
    ec: str          # L M Q H
    model: int
    align: str


@dataclass(frozen=True)
class Raster:
    width_dots: int
    height_dots: int
    align: str
    bits: bytes = b""


@dataclass(frozen=True)
class Feed:
    lines: int


@dataclass(frozen=True)
class Cut:
    mode: str        # full | partial


@dataclass
class Printout:
    items: list = field(default_factory=list)
    inits: int = 0
    chinese_mode: bool = False
    cut_ends: list[int] = field(default_factory=list)   # byte offset just past each cut: where a slip ends

    @property
    def lines(self) -> list[Line]:
        return [item for item in self.items if isinstance(item, Line)]

    @property
    def texts(self) -> list[str]:
        return [line.text for line in self.lines]

    def of_kind(self, kind: type) -> list:
        return [item for item in self.items if isinstance(item, kind)]

    def line_with(self, fragment: str) -> Line:
        for line in self.lines:
            if fragment in line.text:
                return line
        raise AssertionError(f"no printed line contains {fragment!r}: {self.texts}")


_ALIGN = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}
_EC = {48: "L", 49: "M", 50: "Q", 51: "H"}


def decode(data: bytes, encoding: str = "gb18030") -> Printout:
    out = Printout()
    align, width, height, bold = "left", 1, 1, False
    text = bytearray()
    qr: dict[str, object] = {}
    i = 0

    def need(count: int) -> bytes:
        if i + count > len(data):
            raise ValueError(f"command at byte {i} is cut short")
        return data[i:i + count]

    while i < len(data):
        byte = data[i]
        if byte == LF:
            out.items.append(Line(text.decode(encoding), align, width, height, bold))
            text.clear()
            i += 1
            continue
        if byte >= 0x20:
            text.append(byte)
            i += 1
            continue
        if text:
            raise ValueError(f"command at byte {i} inside a line of text {bytes(text)!r}")
        if byte == ESC:
            command = need(2)[1]
            if command == ord("@"):
                out.inits += 1
                align, width, height, bold = "left", 1, 1, False
                i += 2
            elif command == ord("a"):
                align = _ALIGN[need(3)[2]]
                i += 3
            elif command == ord("E"):
                bold = bool(need(3)[2] & 1)
                i += 3
            elif command == ord("d"):
                out.items.append(Feed(need(3)[2]))
                i += 3
            else:
                raise ValueError(f"unexpected ESC {chr(command)!r} at byte {i}")
        elif byte == GS:
            command = need(2)[1]
            if command == ord("!"):
                size = need(3)[2]
                width, height = (size >> 4) + 1, (size & 0x0F) + 1
                i += 3
            elif command == ord("V"):
                mode = need(3)[2]
                if mode in (0, 48):
                    out.items.append(Cut("full"))
                    i += 3
                elif mode in (1, 49):
                    out.items.append(Cut("partial"))
                    i += 3
                elif mode in (65, 66):
                    need(4)
                    out.items.append(Cut("full" if mode == 65 else "partial"))
                    i += 4
                else:
                    raise ValueError(f"unknown cut mode {mode}")
                out.cut_ends.append(i)
            elif command == ord("(") and need(3)[2] == ord("k"):
                head = need(7)
                length = head[3] | head[4] << 8
                body = need(5 + length)[5:]
                cn, fn, args = body[0], body[1], body[2:]
                if cn != ord("1"):
                    raise ValueError(f"2D code type {cn} is not QR")
                if fn == 65:
                    qr["model"] = args[0] - 48
                elif fn == 67:
                    qr["module"] = args[0]
                elif fn == 69:
                    qr["ec"] = _EC[args[0]]
                elif fn == 80:
                    qr["data"] = args[1:].decode("utf-8")
                elif fn == 81:
                    out.items.append(QrCode(str(qr["data"]), int(qr["module"]), str(qr["ec"]),
                                            int(qr["model"]), align))
                    qr = {}
                i += 5 + length
            elif command == ord("v") and need(3)[2] == ord("0"):
                head = need(8)
                width_bytes = head[4] | head[5] << 8
                rows = head[6] | head[7] << 8
                bits = need(8 + width_bytes * rows)[8:]
                out.items.append(Raster(width_bytes * 8, rows, align, bits))
                i += 8 + width_bytes * rows
            else:
                raise ValueError(f"unexpected GS {chr(command)!r} at byte {i}")
        elif byte == FS:
            command = need(2)[1]
            if command == ord("&"):
                out.chinese_mode = True
            elif command == ord("."):
                out.chinese_mode = False
            else:
                raise ValueError(f"unexpected FS {chr(command)!r} at byte {i}")
            i += 2
        else:
            raise ValueError(f"unexpected control byte {byte:#04x} at byte {i}")
    if text:
        raise ValueError(f"text left without a line feed: {bytes(text)!r}")
    return out

