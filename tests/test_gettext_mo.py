"""The .mo reader against Python's own gettext module, on catalogues written byte by byte here."""
import gettext
import io
import struct

import pytest

from minidistil.data.gettext_mo import read_mo


def write_mo(entries: dict[bytes, bytes], order: str = "<") -> bytes:
    """A .mo file as msgfmt writes it: header, two tables of (length, offset), then the strings."""
    keys = sorted(entries)
    n = len(keys)
    originals, translations = 28, 28 + 8 * n
    offset = 28 + 16 * n
    body, table_o, table_t = b"", b"", b""
    for key in keys:
        table_o += struct.pack(order + "2I", len(key), offset + len(body))
        body += key + b"\0"
    for key in keys:
        table_t += struct.pack(order + "2I", len(entries[key]), offset + len(body))
        body += entries[key] + b"\0"
    header = struct.pack(order + "7I", 0x950412DE, 0, n, originals, translations, 0, 0)
    return header + table_o + table_t + body


HEADER = (b"Project-Id-Version: demo 1.0\nLanguage: zh_CN\n"
          b"Content-Type: text/plain; charset=%s\nPlural-Forms: nplurals=%d; plural=%s;\n")


def demo_catalogue(charset: str, plural_rule: bytes, nplurals: int) -> dict[bytes, bytes]:
    enc = lambda s: s.encode(charset)
    forms = ["%d 个文件", "%d 个文件们", "%d 个文件们们"][:nplurals]
    return {
        b"": HEADER % (charset.encode(), nplurals, plural_rule),
        b"write error": enc("写错误"),
        b"Open": enc("打开"),
        enc("menu\x04Open"): enc("打开(_O)"),             # the same msgid, another context
        enc("%d file\x00%d files"): enc("\x00".join(forms)),
        enc("dialog\x04%d item\x00%d items"): enc("\x00".join(f.replace("文件", "项") for f in forms)),
    }


@pytest.mark.parametrize("order", ["<", ">"], ids=["little-endian", "big-endian"])
@pytest.mark.parametrize("charset,rule,nplurals", [("UTF-8", b"0", 1), ("GBK", b"0", 1),
                                                   ("UTF-8", b"n != 1", 2), ("GB18030", b"n%10==1 ? 0 : n<5 ? 1 : 2", 3)])
def test_reader_translates_as_python_gettext_does(order, charset, rule, nplurals):
    raw = write_mo(demo_catalogue(charset, rule, nplurals), order)
    ours, theirs = read_mo(raw), gettext.GNUTranslations(io.BytesIO(raw))
    assert ours.charset == charset == theirs.charset()
    assert ours.header["Language"] == "zh_CN"
    for msgid in ["write error", "Open", "not in the catalogue"]:
        assert ours.gettext(msgid) == theirs.gettext(msgid)
    assert ours.gettext("Open", context="menu") == theirs.pgettext("menu", "Open") == "打开(_O)"
    for n in [0, 1, 2, 3, 4, 5, 11, 21]:
        assert ours.ngettext("%d file", "%d files", n) == theirs.ngettext("%d file", "%d files", n)
        assert (ours.ngettext("%d item", "%d items", n, context="dialog")
                == theirs.npgettext("dialog", "%d item", "%d items", n))


def test_messages_carry_context_and_plural_forms_and_skip_the_header():
    catalogue = read_mo(write_mo(demo_catalogue("UTF-8", b"n != 1", 2)))
    by_key = {(m.context, m.msgid): m for m in catalogue.messages}
    assert len(catalogue.messages) == 5  # the header (empty msgid) is not a message
    assert by_key[("menu", "Open")].msgstr == ("打开(_O)",)
    assert by_key[(None, "%d file")].msgid_plural == "%d files"
    assert by_key[(None, "%d file")].msgstr == ("%d 个文件", "%d 个文件们")
    assert by_key[(None, "Open")].context is None and by_key[(None, "Open")].msgid_plural is None


def test_big_and_little_endian_files_read_the_same():
    entries = demo_catalogue("UTF-8", b"0", 1)
    assert read_mo(write_mo(entries, "<")).messages == read_mo(write_mo(entries, ">")).messages


@pytest.mark.parametrize("raw,words", [(b"hello world, not a catalogue", "not a GNU .mo file"),
                                       (b"\xde\x12\x04\x95", "too short")])
def test_a_file_that_is_not_a_catalogue_is_refused_with_a_sentence(raw, words):
    with pytest.raises(ValueError, match=words):
        read_mo(raw)


def test_a_truncated_catalogue_is_refused():
    raw = write_mo(demo_catalogue("UTF-8", b"0", 1))
    with pytest.raises(ValueError, match="truncated"):
        read_mo(raw[:-20])
