"""Qt's compiled translations (`.qm`), read in plain Python: the English source text beside its translation.

The format (Qt's `translator.cpp`, `lrelease`): 16 magic bytes, then sections, each a tag byte, a
big-endian uint32 length and the data. The section tagged 0x69 holds the messages one after the
other; a message is a run of tagged fields ending with tag 1:

    tag 3  translation   uint32 byte length (0xFFFFFFFF: none), UTF-16BE text; one per plural form
    tag 6  source text   uint32 length, UTF-8     tag 7  context   uint32 length, UTF-8
    tag 8  comment       uint32 length, UTF-8     tag 5  an obsolete 4-byte hash
    tag 1  end of the message

Debian's qttranslations5-l10n keeps the source text in its files (lrelease may strip it: then only
hashes are left and no pair can be made).

    >>> [(m.source, m.translation) for m in read_qm(raw)][:1]
    [('&Yes', '是(&Y)')]
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

MAGIC = bytes([0x3C, 0xB8, 0x64, 0x18, 0xCA, 0xEF, 0x9C, 0x95, 0xCD, 0x21, 0x1C, 0xBF, 0x60, 0xA1, 0xBD, 0xDD])
SECTION_MESSAGES = 0x69
END, TRANSLATION, OBSOLETE1, SOURCE, CONTEXT, COMMENT = 1, 3, 5, 6, 7, 8


@dataclass(frozen=True)
class QmMessage:
    context: str
    source: str
    comment: str
    translations: tuple[str, ...]  # one per plural form

    @property
    def translation(self) -> str:
        return self.translations[0] if self.translations else ""


def sections(raw: bytes, what: str = "the file") -> dict[int, bytes]:
    if not raw.startswith(MAGIC):
        raise ValueError(f"{what} is not a Qt .qm file (its first bytes are {raw[:16].hex()})")
    found, pos = {}, len(MAGIC)
    while pos + 5 <= len(raw):
        tag, length = raw[pos], struct.unpack_from(">I", raw, pos + 1)[0]
        found[tag] = raw[pos + 5:pos + 5 + length]
        pos += 5 + length
    return found


def read_qm(raw: bytes, what: str = "the file") -> list[QmMessage]:
    """Every message of a `.qm` file with its source text, in file order."""
    data = sections(raw, what).get(SECTION_MESSAGES, b"")
    messages, pos = [], 0
    fields: dict[int, str] = {}
    translations: list[str] = []
    while pos < len(data):
        tag = data[pos]
        pos += 1
        if tag == END:
            messages.append(QmMessage(fields.get(CONTEXT, ""), fields.get(SOURCE, ""), fields.get(COMMENT, ""),
                                      tuple(translations)))
            fields, translations = {}, []
        elif tag == OBSOLETE1:
            pos += 4
        elif tag in (TRANSLATION, SOURCE, CONTEXT, COMMENT):
            length = struct.unpack_from(">I", data, pos)[0]
            pos += 4
            if length == 0xFFFFFFFF:  # a null translation
                continue
            if pos + length > len(data):
                raise ValueError(f"{what} is truncated: a field of {length} bytes runs past its section")
            chunk = data[pos:pos + length]
            pos += length
            if tag == TRANSLATION:
                translations.append(chunk.decode("utf-16-be"))
            else:
                fields[tag] = chunk.decode("utf-8", "replace")
        else:
            raise ValueError(f"{what} holds an unknown .qm message tag {tag} at byte {pos - 1} of its messages")
    return messages
