"""R's serialization, read back: bytes written by hand from R Internals (section 1.8), and the real
Austen package against facts about the novels."""
import gzip
import struct

import pytest

from minidistil.data import debian, rdata


def _int(*values):
    return struct.pack(f">{len(values)}i", *values)


def _char(text):
    raw = text.encode()
    return _int(9 | (1 << 12 + 3), len(raw)) + raw  # CHARSXP, with the UTF-8 level bit set as R writes it


def _strings(*texts):
    return _int(16, len(texts)) + b"".join(_char(t) for t in texts)


def _header(version=3):
    tail = _int(5, ) + b"UTF-8" if version == 3 else b""
    return b"X\n" + _int(version, 0x040300, 0x030500) + tail


def test_a_character_vector_with_a_missing_value():
    raw = _header() + _int(16, 3) + _char("It is a truth") + _int(9, -1) + _char("é")
    assert rdata.unserialize(raw) == ["It is a truth", None, "é"]


def test_a_named_list_becomes_a_dict_and_symbols_are_shared_by_reference():
    # list(a = c("x"), b = c("y", "z")), names attribute as a pairlist tagged with the symbol "names"
    names_symbol = _int(1) + _char("names")
    attributes = _int(2 | (1 << 10)) + names_symbol + _strings("a", "b") + _int(254)
    raw = _header(2) + _int(19 | (1 << 9), 2) + _strings("x") + _strings("y", "z") + attributes
    assert rdata.unserialize(raw) == {"a": ["x"], "b": ["y", "z"]}


def test_numbers_and_a_refused_type():
    assert rdata.unserialize(_header() + _int(13, 2, 7, -1)) == [7, -1]
    assert rdata.unserialize(_header() + _int(14, 1) + struct.pack(">d", 2.5)) == [2.5]
    with pytest.raises(ValueError, match="type 3 is not supported"):
        rdata.unserialize(_header() + _int(3))  # a closure: code, not data
    with pytest.raises(ValueError, match="XDR"):
        rdata.unserialize(b"RDA2\n")


def test_a_lazyload_database_by_offsets(tmp_path):
    blobs = {"emma": _header() + _strings("EMMA", "By Jane Austen"), "n": _header() + _int(13, 1, 3)}
    rdb, index = b"", []
    for name, raw in blobs.items():
        import zlib
        blob = struct.pack(">I", len(raw)) + zlib.compress(raw)
        index.append((name, len(rdb), len(blob)))
        rdb += blob
    offsets = _int(19 | (1 << 9), len(index)) + b"".join(_int(13, 2, o, n) for _, o, n in index) \
        + _int(2 | (1 << 10)) + _int(1) + _char("names") + _strings(*[n for n, _, _ in index]) + _int(254)
    top = _header() + _int(19 | (1 << 9), 1) + offsets + _int(2 | (1 << 10)) + _int(255 | (1 << 8)) \
        + _strings("variables") + _int(254)
    (tmp_path / "x.rdx").write_bytes(gzip.compress(top))
    (tmp_path / "x.rdb").write_bytes(rdb)
    assert rdata.read_lazyload_db(tmp_path / "x.rdx", tmp_path / "x.rdb") == {"emma": ["EMMA", "By Jane Austen"], "n": [3]}


def test_the_six_novels_have_their_chapters_and_famous_first_line():
    folder = debian.unpack(debian.PACKAGES["r-cran-janeaustenr"])
    novels = rdata.read_lazyload_db(folder / "Rdata.rdx", folder / "Rdata.rdb")
    chapters = {name: sum(1 for line in lines if line.split()[:1] in (["CHAPTER"], ["Chapter"]))
                for name, lines in novels.items()}
    # The chapter counts of the printed novels (Emma's three volumes: 18 + 18 + 19).
    assert chapters == {"emma": 55, "mansfieldpark": 48, "northangerabbey": 31, "persuasion": 24,
                        "prideprejudice": 61, "sensesensibility": 50}
    text = " ".join(novels["prideprejudice"][:12])
    assert "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife." in text
