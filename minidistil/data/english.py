"""English as a reader writes it, from the uncased WordPiece decoder's output.

An uncased BERT vocabulary decodes "They're sure Tom can't (see dpkg)." as
"they ' re sure tom can ' t ( see dpkg ).": every apostrophe, bracket, quote, slash and hyphen is a
token of its own, and case is gone. Two steps put it back:

1. `detokenize`: join what the tokenizer split, by rules in the spirit of the Moses detokenizer
   (Koehn et al. 2007): clitics ("they ' re" -> "they're"), brackets and quotes against their
   contents, numbers ("3. 50" -> "3.50", "1, 000" -> "1,000", "20 %" -> "20%"), hyphenated words,
   paths and options ("/ usr / bin", "- - help"), printf specifiers ("% s").
2. `Truecaser`: each word in its most frequent form inside sentences of real English text (a
   sentence's first word is left out of the count: its capital says nothing), so "tom" -> "Tom",
   "i" -> "I", "linux" -> "Linux"; then each sentence's first letter goes up.

    >>> detokenize("they ' re sure tom can ' t ( see dpkg ).")
    "they're sure tom can't (see dpkg)."
    >>> Truecaser.learn(["Yesterday Tom said I was late.", "So Tom left."])("tom said i was late.")
    'Tom said I was late.'
"""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

CLITIC = re.compile(r"(\w) ' (s|re|ve|ll|d|m|t)\b", re.I)       # they ' re, can ' t, mary ' s
OPEN = re.compile(r"([(\[{]) ")                                  # ( as root -> (as root
CLOSE = re.compile(r" ([)\]}])")                                 # root ) -> root)
BEFORE = re.compile(r" ([;:])(?=\s|$)")                          # word ; -> word;  (, . ! ? the decoder already joins)
NUMBER = re.compile(r"(\d)([.:]) (?=\d)|(\d)(,) (?=\d{3}\b)")     # 2. 6. 2 -> 2.6.2, 10 : 30 -> 10:30, 3, 500 -> 3,500
PLUS = re.compile(r"(?<=\w) \+ (?=\w\b)")                         # ctrl + z -> ctrl+z
PERCENT = re.compile(r"(\d) %")                                  # 20 % -> 20%
CURRENCY = re.compile(r"([$£€¥]) (\d)")                          # $ 3 -> $3
PRINTF = re.compile(r"(?<![\d\w])% (l?[sdifcxugp]|zu|lu|ld)\b")  # % s -> %s (not "20% of")
ABBREVIATION = re.compile(r"\b(i\. e|e\. g|a\. m|p\. m|etc)\b\.?", re.I)
HYPHEN = re.compile(r"(?<=\w) - (?=\w)")                         # well - known -> well-known
OPTION = re.compile(r"(^|\s)- (?=[a-zA-Z]\b)")                    # the - v option -> the -v option
DOUBLE_DASH = re.compile(r"(^|\s)- - ?(?=\w)")                   # - - help -> --help
ABSOLUTE = re.compile(r"(?<!\S)((?:[~.] ?)?(?:/ ?\.? ?[\w-]+ ?){2,})")  # / usr / share / doc -> /usr/share/doc
SLASH = re.compile(r"(?<=\w) / (?=\w)")                           # and / or -> and/or
EXTENSION = re.compile(r"(\w+)\. (conf|cfg|ini|txt|md|py|sh|c|h|js|css|html?|xml|json|ya?ml|log|list|deb|rpm|"
                       r"gz|bz2|xz|tar|zip|so|png|jpe?g|svg|pdf|odt|ods|odp|org|com|net|io)\b")  # app. conf -> app.conf
TRUECASE_FILE = "truecase.json"  # a translator folder's truecaser (the forms of its training targets' words)
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:'[A-Za-z]+)?")
SENTENCE_START = re.compile(r"(^|[.!?]\s+|[\"(]\s*)([a-z])")


def detokenize(text: str) -> str:
    """Undo the tokenizer's spaces (see the module docstring); case is left to `Truecaser`."""
    text = CLITIC.sub(r"\1'\2", text)
    text = BEFORE.sub(r"\1", text)
    text = ABBREVIATION.sub(lambda m: m.group(0).replace(" ", ""), text)
    text = NUMBER.sub(lambda m: (m.group(1) or m.group(3)) + (m.group(2) or m.group(4)), text)
    text = EXTENSION.sub(_extension, text)
    text = PLUS.sub("+", text)
    text = PERCENT.sub(r"\1%", text)
    text = CURRENCY.sub(r"\1\2", text)
    text = PRINTF.sub(r"%\1", text)
    text = DOUBLE_DASH.sub(r"\1--", text)
    text = OPTION.sub(r"\1-", text)
    text = HYPHEN.sub("-", text)
    text = ABSOLUTE.sub(lambda m: m.group(1).replace(" ", "") + (" " if m.group(1).endswith(" ") else ""), text)
    text = SLASH.sub("/", text)
    text = OPEN.sub(r"\1", text)
    text = CLOSE.sub(r"\1", text)
    return _join_quotes(text).strip()


FUNCTION_WORDS = {"a", "an", "the", "in", "of", "to", "and", "or", "with", "as", "for", "by", "on", "at", "is", "are",
                  "from", "into", "named", "called", "ending", "extension"}


def _extension(m: re.Match) -> str:
    """"app. conf" is "app.conf"; but "in. deb" is "in .deb" (a function word does not take an extension)."""
    word, extension = m.group(1), m.group(2)
    return f"{word} .{extension}" if word.lower() in FUNCTION_WORDS else f"{word}.{extension}"


def _join_quotes(text: str) -> str:
    """Straight double quotes come in pairs: the first of a pair loses the space after it, the second
    the space before it."""
    parts = text.split('"')
    if len(parts) < 3:
        return text
    out = parts[0]
    for i, part in enumerate(parts[1:], start=1):
        opening = i % 2 == 1
        if opening and i < len(parts) - 1:
            out += '"' + part.lstrip()
        else:
            out = out.rstrip() + '"' + part
    return out


class Truecaser:
    """Each word's most frequent form inside sentences of real text (see the module docstring)."""

    def __init__(self, forms: dict[str, str]):
        self.forms = forms

    @classmethod
    def learn(cls, texts, min_count: int = 2) -> "Truecaser":
        counts: dict[str, Counter] = defaultdict(Counter)
        for text in texts:
            for sentence in re.split(r"(?<=[.!?])\s+", text):
                for word in WORD.findall(sentence)[1:]:  # the first word: capitalised by position
                    counts[word.lower()][word] += 1
        forms = {}
        for lower, seen in counts.items():
            form, n = seen.most_common(1)[0]
            if n >= min_count and form != lower:
                forms[lower] = form
        return cls(forms)

    def __call__(self, text: str, source: str = "") -> str:
        """`text` in its words' usual forms, sentence starts capitalised; a Latin word that also stands
        in `source` (a Chinese text with "BASIC" or "Calc" in it) takes the source's form."""
        forms = {**self.forms, **{w.lower(): w for w in WORD.findall(source)}}
        text = WORD.sub(lambda m: forms.get(m.group(0).lower(), m.group(0)), text)
        return SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), text)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.forms, ensure_ascii=False, sort_keys=True, indent=0) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Truecaser":
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))
