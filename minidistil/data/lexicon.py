"""Short lexicon pairs: CC-CEDICT's entries, iso-codes' names, CLDR's names (from Babel's data files).

A dictionary teaches words a sentence corpus may never show (names of countries, languages,
currencies; the everyday words of CC-CEDICT). Each is a pair of a Chinese name and its English one.

Babel keeps CLDR as pickles (`babel/locale-data/zh.dat`, `en.dat`). They are read with an unpickler
that builds no object but plain containers: Babel's own classes (date and number patterns, plural
rules) become inert stand-ins, and any other class is refused, so loading runs no code from the file.
"""
from __future__ import annotations

import gzip
import io
import pickle
import zipfile
from typing import Iterator

from minidistil.data import cedict
from minidistil.data import zh_en_sources as pinned
from minidistil.data.gettext_mo import read_mo

# CLDR tables that map a code to a name (the values compared across the two languages)
CLDR_TABLES = ("languages", "territories", "scripts", "currency_names", "variants")


def cedict_pairs() -> Iterator[dict]:
    """(simplified headword, first gloss) of every CC-CEDICT entry (a common word wins over a name)."""
    with gzip.open(cedict.dictionary_file(), "rt", encoding="utf-8") as f:
        for zh, en in cedict.parse(f).items():
            yield {"zh": zh, "en": en, "source": "cc-cedict", "unit": "cc-cedict"}


def iso_codes_pairs() -> Iterator[dict]:
    folder = pinned.deb_files("iso-codes")
    for mo in sorted(folder.glob("usr/share/locale/zh_CN/LC_MESSAGES/*.mo")):
        for message in read_mo(mo.read_bytes(), str(mo)).messages:
            if message.msgstr[0]:
                yield {"zh": message.msgstr[0], "en": message.msgid, "source": "iso-codes", "unit": mo.stem}


class _Inert:
    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


class _DataOnly(pickle.Unpickler):
    def find_class(self, module, name):
        if module.split(".")[0] == "babel":
            return _Inert
        if (module, name) in (("collections", "OrderedDict"), ("builtins", "set"), ("builtins", "frozenset")):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"Babel's locale data refers to {module}.{name}, which is not plain data")


def cldr(locale: str) -> dict:
    with zipfile.ZipFile(pinned.wheel("Babel")) as z:
        return _DataOnly(io.BytesIO(z.read(f"babel/locale-data/{locale}.dat"))).load()


def cldr_pairs() -> Iterator[dict]:
    zh, en = cldr("zh"), cldr("en")
    for table in CLDR_TABLES:
        for code in sorted(zh.get(table, {}).keys() & en.get(table, {}).keys()):
            z, e = zh[table][code], en[table][code]
            if isinstance(z, str) and isinstance(e, str):
                yield {"zh": z, "en": e, "source": "cldr", "unit": table}
    zones_zh, zones_en = zh.get("time_zones", {}), en.get("time_zones", {})
    for zone in sorted(zones_zh.keys() & zones_en.keys()):  # exemplar cities: 洛杉矶 / Los Angeles
        if "city" in zones_zh[zone] and "city" in zones_en[zone]:
            yield {"zh": zones_zh[zone]["city"], "en": zones_en[zone]["city"], "source": "cldr", "unit": "cities"}
