"""Just enough of R's serialization format to read the text that an R data package ships.

R packages keep their data sets in a lazy-load database: `Rdata.rdx`, a gzip-compressed serialized
index (name -> offset and length), and `Rdata.rdb`, the serialized objects one after another, each
compressed on its own. The format is R's XDR serialization (R Internals, section 1.8): big-endian
integers, each object a 32-bit header (type in the low byte, then "has attributes" and "has tag"
bits) followed by its contents. Character vectors, lists and numbers are all a text corpus needs;
any other type is refused.

    >>> books = rdata.read_lazyload_db(folder / "Rdata.rdx", folder / "Rdata.rdb")
    >>> books["emma"][:3]
    ['EMMA', '', 'By Jane Austen']
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import struct
import zlib
from pathlib import Path

# R's SEXP types that occur in data packages of text.
NIL, SYMBOL, PAIRLIST, CHAR, LOGICAL, INTEGER, REAL, STRING, LIST = 254, 1, 2, 9, 10, 13, 14, 16, 19
REF, ALTREP = 255, 238


class _Reader:
    def __init__(self, raw: bytes):
        self.raw, self.pos, self.refs = raw, 0, []

    def int(self) -> int:
        (value,) = struct.unpack_from(">i", self.raw, self.pos)
        self.pos += 4
        return value

    def numbers(self, code: str, size: int) -> list:
        n = self.int()
        values = list(struct.unpack_from(f">{n}{code}", self.raw, self.pos))
        self.pos += size * n
        return values

    def item(self):
        flags = self.int()
        kind, has_attr, has_tag = flags & 0xFF, flags & (1 << 9), flags & (1 << 10)
        if kind == NIL:
            return None
        if kind == REF:  # a symbol seen before, by its index in the table
            return self.refs[(flags >> 8 or self.int()) - 1]
        if kind == SYMBOL:
            name = self.item()
            self.refs.append(name)
            return name
        if kind == PAIRLIST:  # attributes and tagged lists: (tag, value) pairs, chained through cdr
            if has_attr:
                self.item()
            tag = self.item() if has_tag else None
            head, rest = (tag, self.item()), self.item()
            return [head] + (rest or [])
        if kind == CHAR:
            n = self.int()
            if n == -1:  # NA_character_
                return None
            self.pos += n
            return self.raw[self.pos - n:self.pos].decode("utf-8", "replace")
        if kind == ALTREP:  # a compact vector (e.g. row names 1..n): keep its state
            self.item()
            state = self.item()
            self.item()
            return state
        if kind in (LOGICAL, INTEGER):
            value = self.numbers("i", 4)
        elif kind == REAL:
            value = self.numbers("d", 8)
        elif kind in (STRING, LIST):
            value = [self.item() for _ in range(self.int())]
        else:
            raise ValueError(f"R object type {kind} is not supported by this reader (text data only)")
        if has_attr:
            attributes = dict(self.item())
            if "names" in attributes and kind == LIST:
                return dict(zip(attributes["names"], value))
        return value


def unserialize(raw: bytes):
    """One object in R's XDR serialization ("X\\n" header, format version 2 or 3)."""
    if raw[:2] != b"X\n":
        raise ValueError("not R's XDR serialization (the data should start with 'X\\n')")
    reader = _Reader(raw)
    reader.pos = 2
    version = reader.int()
    reader.int(), reader.int()  # the R version that wrote it, the oldest that reads it
    if version == 3:
        n = reader.int()  # the native encoding's name: a length, then its bytes
        reader.pos += n
    return reader.item()


def _decompress(blob: bytes) -> bytes:
    """One object of an .rdb: 4 bytes of uncompressed length, then zlib data, or a type byte
    ('2' bzip2, 'Z' xz, '0' none) and the data."""
    kind, body = blob[4:5], blob[5:]
    if kind == b"2":
        return bz2.decompress(body)
    if kind == b"Z":
        return lzma.decompress(body)
    if kind == b"0":
        return body
    return zlib.decompress(blob[4:])


def read_lazyload_db(rdx: str | Path, rdb: str | Path) -> dict:
    """Every object of an R lazy-load database, by name."""
    index = unserialize(gzip.decompress(Path(rdx).read_bytes()))
    raw = Path(rdb).read_bytes()
    return {name: unserialize(_decompress(raw[int(offset):int(offset) + int(length)]))
            for name, (offset, length) in index["variables"].items()}
