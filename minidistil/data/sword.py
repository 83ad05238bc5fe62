"""The text of a SWORD Bible module (the zText format of Debian's sword-text-* packages).

A zText module keeps each testament in three files: `.bzz`, blocks of zlib-compressed text (one
block per book in the World English Bible); `.bzs`, the block index (offset, compressed size,
uncompressed size: three little-endian uint32 per block); and `.bzv`, the verse index (block
number and offset as uint32, size as uint16: 10 bytes per verse, in canonical order, with empty
entries for book and chapter headings). The verses are OSIS XML: words wrapped in `<w>` elements
with Strong's numbers, footnotes in `<note>`; we keep the words.

    >>> books = sword.read_books(folder)     # 81 books of the World English Bible with Deuterocanon
    >>> books[0][0]
    'In the beginning, God created the heavens and the earth.'
"""
from __future__ import annotations

import html
import re
import struct
import zlib
from pathlib import Path

_NOTE = re.compile(r"<note\b.*?</note>", re.S)  # footnotes and cross references are not the text
_TAG = re.compile(r"<[^>]*(>|$)")  # a verse longer than its uint16 size is cut, maybe inside a tag
_SPACE = re.compile(r"\s+")
_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?])")


def verse_text(osis: str) -> str:
    """The words of one OSIS verse, markup and notes removed.

    A note sits between two words with no space around it (`God</w><note>...</note><w>created`),
    so it becomes a space, which must not stay before punctuation.
    """
    text = html.unescape(_TAG.sub("", _NOTE.sub(" ", osis)))
    return _BEFORE_PUNCT.sub(r"\1", _SPACE.sub(" ", text)).strip()


def read_books(folder: str | Path, testaments=("ot", "nt")) -> list[list[str]]:
    """Every book of the module as a list of its verses, in canonical order."""
    folder = Path(folder)
    books = []
    for t in testaments:
        bzs, bzv, bzz = ((folder / f"{t}.{ext}").read_bytes() for ext in ("bzs", "bzv", "bzz"))
        blocks = [struct.unpack_from("<III", bzs, i) for i in range(0, len(bzs), 12)]
        texts = [zlib.decompress(bzz[offset:offset + size]) for offset, size, _ in blocks]
        verses: dict[int, list[str]] = {}
        for i in range(0, len(bzv), 10):
            block, offset, size = struct.unpack_from("<IIH", bzv, i)
            text = verse_text(texts[block][offset:offset + size].decode("utf-8")) if size else ""
            if text:
                verses.setdefault(block, []).append(text)
        books += [verses[b] for b in sorted(verses)]
    return books
