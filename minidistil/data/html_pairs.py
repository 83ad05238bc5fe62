"""Pairs out of two HTML renderings of one manual, by block order and by matching runs.

The Debian manuals (handbook, installation guide, FAQ, maint-guide, debian-edu, kicad, harden-doc,
gimp-help) are built by one tool from one source per language, so the English and the Chinese page
hold the same blocks (paragraphs, headings, list items, table cells) in the same order. A page is
read into its blocks, each with a *signature*: its tag, its class and how many inline elements
(`<code>`, `<a>`, `<em>`, ...) it holds, which a translator keeps. Where both pages have the same
signature sequence, the blocks pair in order; where a translation is older or newer than the
English, `difflib` finds the runs of equal signatures, and only blocks inside those runs pair.

    >>> list(align(zh_html, en_html))
    [('安装', 'Installation'), ('运行 <code> 命令。', ...)]

Navigation (DocBook's `navheader`, `navfooter`, tables of contents), scripts, styles and code
listings (`<pre>`) are skipped: they are not prose, and a table of contents repeats the headings.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Iterator

BLOCK = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "td", "th", "caption", "title", "blockquote",
         "figcaption", "div", "table", "tr", "ul", "ol", "dl", "body", "section", "article"}
INLINE_COUNTED = {"a", "code", "em", "strong", "b", "i", "tt", "span", "kbd", "var", "sup", "sub", "img"}
SKIP = {"script", "style", "pre", "head"}  # their text is never a block; `head`'s <title> is re-read as a heading
# DocBook's navigation and tables of contents ("上一页" / "Prev", the chapter's own headings again)
SKIP_CLASS = {"navheader", "navfooter", "toc", "list-of-tables", "list-of-figures", "list-of-examples", "breadcrumbs",
              "navigation", "navfooter-home", "docnav", "footnotes"}
VOID = {"br", "img", "input", "meta", "link", "hr", "wbr", "source", "col", "area", "base", "embed"}


@dataclass
class Block:
    signature: str
    text: str


class _Blocks(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.stack: list[tuple[str, str]] = []  # (tag, class) of the open block elements
        self.skip_depth = 0                     # > 0 inside a skipped subtree
        self.skip_stack: list[bool] = []        # for every open non-void element: did it start a skip?
        self.parts: list[str] = []
        self.inline = 0

    def flush(self):
        text = " ".join("".join(self.parts).split())
        if text and self.stack and not self.skip_depth:
            tag, cls = self.stack[-1]
            self.blocks.append(Block(f"{tag}.{cls}.{self.inline}", text))
        self.parts, self.inline = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            if tag == "br":
                self.parts.append(" ")
            elif tag == "img" and not self.skip_depth:
                self.inline += 1
            return
        classes = set((dict(attrs).get("class") or "").split())
        skip = tag in SKIP or bool(classes & SKIP_CLASS) or "Navigation" in (dict(attrs).get("summary") or "")
        if skip or tag in BLOCK:
            self.flush()
        if skip:
            self.skip_depth += 1
        elif tag in BLOCK:
            self.stack.append((tag, sorted(classes)[0] if classes else ""))
        elif tag in INLINE_COUNTED and not self.skip_depth:
            self.inline += 1
        self.skip_stack.append(skip)

    def handle_endtag(self, tag):
        if tag in VOID or not self.skip_stack:
            return
        skip = self.skip_stack.pop()
        if skip or tag in BLOCK:
            self.flush()
        if skip:
            self.skip_depth -= 1
        elif tag in BLOCK and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not self.skip_depth:
            self.parts.append(data)


def blocks(html: str) -> list[Block]:
    """The text blocks of a page in document order, whitespace collapsed."""
    parser = _Blocks()
    parser.feed(html)
    parser.close()
    parser.flush()
    return parser.blocks


def align(zh_html: str, en_html: str, min_run: int = 2) -> Iterator[tuple[str, str]]:
    """(zh, en) for the blocks that pair: in order where the signature sequences are equal, else inside
    the runs of equal signatures that `difflib` finds (runs shorter than `min_run` are too weak a
    match to trust: one `<p>` matches any other)."""
    zh, en = blocks(zh_html), blocks(en_html)
    zs, es = [b.signature for b in zh], [b.signature for b in en]
    if zs == es:
        yield from ((z.text, e.text) for z, e in zip(zh, en))
        return
    for a, b, n in difflib.SequenceMatcher(None, zs, es, autojunk=False).get_matching_blocks():
        if n >= min_run:
            yield from ((zh[a + i].text, en[b + i].text) for i in range(n))


def same_order_share(zh_html: str, en_html: str) -> bool:
    """Whether the two pages have equal block sequences (DATA.md's "126 of 127 files")."""
    return [b.signature for b in blocks(zh_html)] == [b.signature for b in blocks(en_html)]


LANGUAGE_IN_NAME = re.compile(r"\.(zh-cn|zh_CN|zh-CN|en|en-US)(?=\.html$)", re.I)


def page_key(relative_path: str) -> str:
    """The name both languages share: `checkit.zh-cn.html` and `checkit.en.html` -> `checkit.html`."""
    return LANGUAGE_IN_NAME.sub("", relative_path)
