"""One rule for every text minidistil reads: strict UTF-8, or the encoding the user names.

Files (`.txt`, `.csv`, `.jsonl`, settings), stdin, `.mo` catalogues and help pages all go through
here. A byte that is not valid in the expected encoding is never replaced or escaped: the text is
refused with one sentence that names the file, the byte offset and the fix, because a replaced byte
turns a GBK review into noise that a model then classifies or translates with confidence.

    >>> textio.decode(b"caf\\xe9", "notes.txt")
    ValueError: notes.txt is not UTF-8: byte 0xe9 at offset 3 is invalid; convert it with
    `iconv -f ENCODING -t UTF-8 notes.txt > notes.utf8.txt`, or pass --encoding ENCODING

    >>> textio.decode(raw, "reviews.csv", encoding="gbk")     # the user said what it is

A leading byte-order mark is dropped. The hint names an encoding only when the bytes point to one:
GB18030 (simplified Chinese) when they decode in the simplified GB2312 set, Big5 (traditional)
when they decode as Big5 but not as GBK; both readings succeed on short texts, and then it names
neither rather than guess wrong.
"""
from __future__ import annotations

import codecs
import sys
from pathlib import Path
from typing import Iterator

UTF8 = "utf-8"


class TextDecodingError(ValueError):
    """Bytes that are not text in the expected encoding; the message is one sentence."""


def check_encoding(encoding: str | None) -> str:
    """The codec name for `encoding` (None: UTF-8), or one sentence if Python knows no such encoding."""
    if encoding is None:
        return UTF8
    if not isinstance(encoding, str) or not encoding.strip():
        raise ValueError(f"--encoding must name an encoding such as gbk, big5 or latin-1, got {encoding!r}")
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ValueError(f"--encoding {encoding!r} is not an encoding Python knows; try utf-8, gbk, gb18030, "
                         f"big5 or latin-1") from None


def guess(raw: bytes) -> str | None:
    """The encoding these (non-UTF-8) bytes most likely are in, or None when they do not tell."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "UTF-16"

    def reads_as(encoding: str) -> bool:
        try:
            raw.decode(encoding)
            return True
        except UnicodeDecodeError:
            return False

    gbk, big5 = reads_as("gbk"), reads_as("big5")
    # Big5's second bytes run 0x40-0x7e, outside GB2312: Big5 text of any length fails GB2312, while
    # everyday simplified text fits it. GBK and Big5 both accept most short byte strings.
    simplified = reads_as("gb2312") or (gbk and not big5) or (reads_as("gb18030") and not gbk and not big5)
    traditional = big5 and not gbk
    if simplified != traditional:
        return "GB18030" if simplified else "BIG5"
    return None


def decode(raw: bytes, where: str, encoding: str | None = None, offset: int = 0, fix: str | None = None) -> str:
    """`raw` as text in `encoding` (default strict UTF-8, a leading byte-order mark dropped), or a
    `TextDecodingError` naming `where`, the byte offset (`offset` + the position in `raw`) and the fix
    (`fix` replaces the usual iconv / --encoding advice where those do not apply)."""
    codec = check_encoding(encoding)
    try:
        text = raw.decode("utf-8-sig" if codec == UTF8 and offset == 0 else codec)
    except UnicodeDecodeError as e:
        raise TextDecodingError(message(raw, e.start, where, codec, offset, fix)) from None
    return text


def message(raw: bytes, start: int, where: str, codec: str, offset: int = 0, fix: str | None = None) -> str:
    name = "UTF-8" if codec == UTF8 else codec
    hint = guess(raw) if codec == UTF8 else None
    source = hint or "ENCODING"
    is_file = not where.startswith(("stdin", "the ", "text "))
    convert = (f"`iconv -f {source} -t UTF-8 {where} > {Path(where).with_suffix('.utf8' + Path(where).suffix)}`"
               if is_file else f"`iconv -f {source} -t UTF-8`")
    seems = f" (it looks like {hint})" if hint else ""
    if fix:
        return f"{where} is not {name}: byte {raw[start]:#04x} at offset {offset + start:,} is invalid{seems}; {fix}"
    return (f"{where} is not {name}: byte {raw[start]:#04x} at offset {offset + start:,} is invalid{seems}; "
            f"convert it with {convert}, or pass --encoding {source.lower() if hint else 'ENCODING'}")


def read_text(path: str | Path, encoding: str | None = None) -> str:
    """A whole file as text under the rule above."""
    path = Path(path)
    return decode(path.read_bytes(), str(path), encoding)


def iter_lines(path: str | Path, encoding: str | None = None) -> Iterator[str]:
    """The lines of a file (ends kept), decoded one at a time, so a large corpus streams; an
    undecodable line stops the reading with the file's byte offset of the bad byte."""
    path = Path(path)
    codec = check_encoding(encoding)
    if codec != UTF8 and codecs.lookup(codec).name.startswith("utf-16"):
        yield from read_text(path, encoding).splitlines(keepends=True)  # no byte lines to split on
        return
    offset = 0
    with open(path, "rb") as f:
        for raw in f:
            try:
                yield raw.decode("utf-8-sig" if codec == UTF8 and offset == 0 else codec)
            except UnicodeDecodeError as e:
                head = f.read(4096) if e.start == len(raw) - 1 else b""  # a cut multi-byte char: guess from more
                raise TextDecodingError(message(raw + head, e.start, str(path), codec, offset)) from None
            offset += len(raw)


def stdin_lines(encoding: str | None = None, stream=None) -> list[str]:
    """The lines of stdin (ends stripped) under the rule above. The terminal's text layer decodes
    with surrogateescape, which hides bad bytes as lone surrogates: read the bytes underneath."""
    stream = stream if stream is not None else sys.stdin
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        raw = buffer.read()
    else:  # a text stream without bytes (a test's StringIO): undo the escaping to find bad bytes
        raw = stream.read().encode("utf-8", "surrogateescape")
    return decode(raw, "stdin", encoding).splitlines()


def arguments(texts: list[str], encoding: str | None = None) -> list[str]:
    """Texts given as command-line arguments under the same rule: Python decodes argv with
    surrogateescape too, so bytes that are not UTF-8 arrive as lone surrogates; find them."""
    out = []
    for n, text in enumerate(texts, 1):
        if encoding is None and not any("\udc80" <= c <= "\udcff" for c in text):
            out.append(text)
            continue
        out.append(decode(text.encode("utf-8", "surrogateescape"), f"text argument {n}", encoding))
    return out
