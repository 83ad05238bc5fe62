"""Pairs out of Mozilla's localisation files: Fluent `.ftl` and Java-style `.properties`, by message id.

Firefox and Thunderbird keep their English strings inside the program's `omni.ja` (a zip file) and
the Chinese ones in a language pack (`langpack-zh-CN@….xpi`, another zip). The same file sits in both
under paths that differ only by the locale (`localization/en-US/toolkit/about/aboutAddons.ftl` and
`localization/zh-CN/toolkit/about/aboutAddons.ftl`; the browser's own files sit one folder deeper in
the langpack), so a message pairs with the message of the same id in the same file.

Fluent (projectfluent.org): `id = value`, continuation lines indented, attributes `.name = value`,
terms `-brand-short-name = Firefox`, placeables `{ $count }`, `{ -brand-short-name }`, and select
expressions `{ $n -> [one] … *[other] … }`. Terms are replaced by their value in that language
(Thunderbird's brand is not Firefox's), a select expression by its default variant, a variable by
`{name}` on both sides, so that cleaning can check the two sides hold the same placeholders.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Iterator

ENTRY = re.compile(r"^(-?[A-Za-z][\w-]*)\s*=\s?(.*)$")
ATTRIBUTE = re.compile(r"^\s+\.([\w-]+)\s*=\s?(.*)$")
LOCALE = re.compile(r"/(en-US|zh-CN)(?=/)")


def _default_variants(value: str) -> str:
    """`{ $n -> [one] a file *[other] { $n } files }` -> `{ $n } files`: the default variant,
    found by brace depth because variants hold placeables of their own."""
    while (arrow := value.find("->")) >= 0:
        start = value.rfind("{", 0, arrow)
        depth, end = 1, arrow
        while depth and end < len(value) - 1:
            end += 1
            depth += {"{": 1, "}": -1}.get(value[end], 0)
        body = value[arrow + 2:end]
        default = re.search(r"\*\[[^\]]*\]\s*(.*?)(?=\n\s*\*?\[|\s*$)", body, re.S)
        value = value[:start] + (default.group(1).strip() if default else "") + value[end + 1:]
    return value


def parse_ftl(text: str) -> dict[str, str]:
    """`{id: raw value}` of every message, term and attribute (`id.attr`); comments skipped,
    continuation lines joined with a newline (Fluent drops their common indent)."""
    found: dict[str, list[str]] = {}
    current = message = None
    for line in text.splitlines():
        if line.startswith("#") or (not line.strip() and current is None):
            continue
        if (m := ENTRY.match(line)) is not None:
            message = current = m.group(1)
            found[current] = [m.group(2)]
        elif (m := ATTRIBUTE.match(line)) is not None and message is not None:
            current = f"{message}.{m.group(1)}"
            found[current] = [m.group(2)]
        elif line[:1] in (" ", "\t") and current is not None:
            found[current].append(line.strip())
        elif not line.strip():
            continue
        else:  # junk or a syntax we do not read: end the entry
            current = message = None
    return {k: "\n".join(p for p in v if p).strip() for k, v in found.items()}


PLACEABLE = re.compile(r"\{\s*([^{}]*?)\s*\}")


def resolve(value: str, terms: dict[str, str]) -> str | None:
    """Plain text with `{name}` for each variable; None when a placeable cannot be written as text
    (a reference to another message, a function of a term)."""
    value = _default_variants(value)
    failed = False

    def one(match: re.Match) -> str:
        nonlocal failed
        inner = match.group(1)
        if inner.startswith('"') and inner.endswith('"'):
            return inner[1:-1]                      # a string literal: { "%" }
        if m := re.fullmatch(r"(?:[A-Z]+\()?\$([\w-]+).*", inner):
            return "\x02" + m.group(1) + "\x03"    # { $count } or { NUMBER($count) }: braces added last
        if m := re.fullmatch(r"(-[\w-]+)(?:\.[\w-]+)?(?:\(.*\))?", inner):
            if m.group(1) in terms:
                return terms[m.group(1)]
        failed = True
        return ""

    for _ in range(3):  # a term's value may hold a placeable itself
        value = PLACEABLE.sub(one, value)
    return None if failed else " ".join(value.replace("\x02", "{").replace("\x03", "}").split())


def ftl_messages(text: str, terms: dict[str, str]) -> dict[str, str]:
    """The resolved messages (terms left out: they are names, resolved into the messages)."""
    out = {}
    for key, raw in parse_ftl(text).items():
        if not key.startswith("-") and raw and (value := resolve(raw, terms)) is not None:
            out[key] = value
    return out


def parse_properties(text: str) -> dict[str, str]:
    """`{key: value}` of a `.properties` file: `#`/`!` comments, `key = value` or `key: value`,
    a trailing backslash continues the line, `\\uXXXX` and `\\n` escapes decoded."""
    out, pending = {}, ""
    for line in text.splitlines():
        line = pending + line.lstrip() if pending else line.strip()
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending = line[:-1]
            continue
        pending = ""
        if not line or line[0] in "#!":
            continue
        m = re.match(r"([^=:\s]+)\s*[=:]\s*(.*)$", line)
        if m:
            value = re.sub(r"\\u([0-9a-fA-F]{4})", lambda u: chr(int(u.group(1), 16)), m.group(2))
            out[m.group(1)] = value.replace("\\n", "\n").replace("\\t", "\t").replace("\\", "")
    return out


def locale_key(member: str) -> str:
    """The path both languages share: the locale folders and the langpack's `browser/` prefix removed."""
    return LOCALE.sub("", "/" + member.removeprefix("browser/")).lstrip("/")


def _files(archives: list[Path]) -> dict[str, str]:
    files = {}
    for archive in archives:
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                if name.endswith((".ftl", ".properties")) and LOCALE.search("/" + name):
                    files[locale_key(name)] = z.read(name).decode("utf-8", "replace")
    return files


def _terms(files: dict[str, str]) -> dict[str, str]:
    """Every term of every .ftl file (brands live in `branding/brand.ftl`), resolved without terms first."""
    raw = {k: v for text in (t for n, t in files.items() if n.endswith(".ftl"))
           for k, v in parse_ftl(text).items() if k.startswith("-") and "." not in k}
    terms: dict[str, str] = {}
    for _ in range(2):
        terms = {k: r for k, v in raw.items() if (r := resolve(v, terms)) is not None}
    return terms


def pairs(zh_archives: list[Path], en_archives: list[Path]) -> Iterator[tuple[str, str, str]]:
    """(file key, zh, en) for every message id found in the same file on both sides."""
    zh_files, en_files = _files(zh_archives), _files(en_archives)
    zh_terms, en_terms = _terms(zh_files), _terms(en_files)
    for key in sorted(set(zh_files) & set(en_files)):
        if key.endswith(".ftl"):
            zh, en = ftl_messages(zh_files[key], zh_terms), ftl_messages(en_files[key], en_terms)
        else:
            zh, en = parse_properties(zh_files[key]), parse_properties(en_files[key])
        for mid in sorted(zh.keys() & en.keys()):
            yield key, zh[mid], en[mid]
