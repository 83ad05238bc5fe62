"""GNU gettext `.mo` catalogues, read in plain Python: the English UI strings of a program beside
their translation.

A `.mo` file is a compiled message catalogue (GNU gettext manual, "The Format of GNU MO Files"):

    offset  0: magic 0x950412de, written in the byte order of the machine that compiled it
            4: revision (major in the high 16 bits: 0 or 1)
            8: N, the number of strings
           12: O, where the table of original strings starts
           16: T, where the table of translated strings starts
    O + 8i: (length, offset) of original string i;  T + 8i: the same for its translation

An original is `msgid`, or `msgctxt + "\\x04" + msgid` when the message has a context, and
`msgid + "\\0" + msgid_plural` for a plural message, whose translation is the forms joined by "\\0".
The message with the empty msgid is the header ("Content-Type: text/plain; charset=UTF-8",
"Plural-Forms: nplurals=1; plural=0;"); its charset decodes every other string.

    >>> catalogue = read_mo(Path("coreutils.mo").read_bytes())
    >>> catalogue.gettext("write error")
    '写错误'
"""
from __future__ import annotations

import codecs
import gettext as _stdlib_gettext
import struct
from dataclasses import dataclass, field

from minidistil.utils import textio

MAGIC = 0x950412DE
CONTEXT_SEPARATOR = "\x04"  # between msgctxt and msgid in an original string
PLURAL_SEPARATOR = "\x00"   # between msgid and msgid_plural, and between plural translations


@dataclass(frozen=True)
class Message:
    msgid: str
    msgstr: tuple[str, ...]          # one translation, or one per plural form
    context: str | None = None       # msgctxt
    msgid_plural: str | None = None


@dataclass
class Catalogue:
    header: dict[str, str]           # "Content-Type", "Plural-Forms", "Language", ...
    charset: str
    messages: list[Message] = field(default_factory=list)

    what: str = "the catalogue"      # its file, for messages

    def __post_init__(self):
        self._index = {(m.context, m.msgid): m for m in self.messages}
        forms = self.header.get("Plural-Forms", "")
        expression = forms.split("plural=")[1].split(";")[0] if "plural=" in forms else "n != 1"
        # The plural rule is a C expression; the standard library's own parser evaluates it safely.
        try:
            self._plural = _stdlib_gettext.c2py(expression)
        except (ValueError, SyntaxError, RecursionError):
            raise ValueError(f"{self.what} has a broken Plural-Forms header ({forms!r}): plural={expression!r} "
                             f"is not a C expression of n; fix it in the .po file and compile it again with "
                             f"msgfmt") from None

    def gettext(self, msgid: str, context: str | None = None) -> str:
        """The translation of `msgid`, or `msgid` itself when the catalogue has none (as gettext does)."""
        message = self._index.get((context, msgid))
        return message.msgstr[0] if message else msgid

    def ngettext(self, msgid: str, msgid_plural: str, n: int, context: str | None = None) -> str:
        message = self._index.get((context, msgid))
        if message is None:
            return msgid if n == 1 else msgid_plural
        return message.msgstr[min(self._plural(n), len(message.msgstr) - 1)]


def read_mo(raw: bytes, what: str = "the file") -> Catalogue:
    """Every message of a `.mo` file (either byte order), decoded with the charset of its header."""
    if len(raw) < 20:
        raise ValueError(f"{what} is too short to be a .mo file ({len(raw)} bytes)")
    for order in ("<", ">"):
        if struct.unpack(order + "I", raw[:4])[0] == MAGIC:
            break
    else:
        raise ValueError(f"{what} is not a GNU .mo file (magic {raw[:4].hex()}, expected 950412de or de120495)")
    revision, n, originals, translations = struct.unpack(order + "4I", raw[4:20])
    if revision >> 16 not in (0, 1):
        raise ValueError(f"{what} has .mo revision {revision >> 16}.{revision & 0xFFFF}; only 0 and 1 are known")

    for table in (originals, translations):
        if table + 8 * n > len(raw):
            raise ValueError(f"{what} is truncated: its table of {n:,} strings at byte {table:,} ends past the "
                             f"file's {len(raw):,} bytes")

    def string(table: int, i: int) -> tuple[bytes, int]:
        length, offset = struct.unpack(order + "2I", raw[table + 8 * i: table + 8 * i + 8])
        if offset + length > len(raw):
            raise ValueError(f"{what} is truncated: string {i} ends at byte {offset + length} of {len(raw)}")
        return raw[offset:offset + length], offset

    pairs = [(string(originals, i), string(translations, i)) for i in range(n)]
    header = _parse_header(next((t for (o, _), (t, _) in pairs if o == b""), b"").decode("ascii", "replace"))
    charset = _charset(header, what)
    messages = []
    for (original, at_o), (translation, at_t) in pairs:
        if original == b"":
            continue
        # The same decoding rule as every other text (minidistil.utils.textio): bytes that are not in the
        # header's charset are refused with the file and the byte offset, never replaced.
        fix = f"its header says charset={charset}: correct the header or convert the .po file with msgconv, then msgfmt"
        key = textio.decode(original, what, charset, offset=at_o, fix=fix)
        forms = tuple(textio.decode(translation, what, charset, offset=at_t, fix=fix).split(PLURAL_SEPARATOR))
        context = None
        if CONTEXT_SEPARATOR in key:
            context, key = key.split(CONTEXT_SEPARATOR, 1)
        msgid, *plural = key.split(PLURAL_SEPARATOR, 1)
        messages.append(Message(msgid, forms, context, plural[0] if plural else None))
    return Catalogue(header, charset, messages, what)


def _parse_header(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines():
        name, colon, value = line.partition(":")
        if colon:
            fields[name.strip()] = value.strip()
    return fields


def _charset(header: dict[str, str], what: str = "the catalogue") -> str:
    content_type = header.get("Content-Type", "")
    charset = content_type.split("charset=")[1].split(";")[0].strip() if "charset=" in content_type else "ascii"
    # "CHARSET" is the placeholder of an uncompiled template; gettext itself falls back to ASCII.
    charset = "utf-8" if charset.upper() in ("CHARSET", "") else charset
    try:
        codecs.lookup(charset)
    except LookupError:
        raise ValueError(f"{what} declares charset={charset!r} in its Content-Type header, an encoding Python "
                         f"does not know; recompile the catalogue as UTF-8 (msgconv -t UTF-8, then msgfmt)") from None
    return charset
