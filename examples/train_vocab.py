"""Train a WordPiece vocabulary on the project's English corpora and compare it with bert-base-uncased.

    python examples/train_vocab.py --vocab-size 8000 --out runs/vocab-8k

Every 10th document is held out; the script reports WordPiece tokens per word on the held-out
documents for the new vocabulary and for bert-base-uncased's 30,522 tokens, and how many held-out
words became [UNK]. The folder it writes loads with WordPieceTokenizer.from_pretrained and with
transformers' BertTokenizer.from_pretrained. The method is in minidistil/tokenizer/vocab_train.py.
"""
import time
from dataclasses import dataclass

from minidistil import WordPieceTokenizer
from minidistil.data import sources
from minidistil.cli.flags import parse_settings
from minidistil.tokenizer.vocab_train import tokens_per_word, train_vocab


@dataclass
class Settings:
    vocab_size: int = 8000        # tokens in the new vocabulary
    out: str = "runs/vocab"       # the folder the vocabulary is saved to
    corpus: str = "bbc,speeches,debates,headlines,hamlet"  # comma-separated corpora from minidistil.data.sources.corpus


def main():
    args = parse_settings(Settings, __doc__)

    docs = sources.corpus(tuple(args.corpus.split(",")))
    train, held_out = [d for i, d in enumerate(docs) if i % 10], docs[::10]
    print(f"{len(train):,} training documents, {len(held_out):,} held out")
    start = time.time()
    tokens = train_vocab(train, vocab_size=args.vocab_size)
    ours = WordPieceTokenizer(vocab=tokens)
    ours.save_pretrained(args.out)
    print(f"trained {len(tokens):,} tokens in {time.time() - start:.0f}s, saved to {args.out}")

    bert = WordPieceTokenizer.from_pretrained(sources.teacher_dir())
    print("\n| vocabulary | size | tokens per word (held out) | [UNK] share |")
    print("|---|---:|---:|---:|")
    for name, tok in [(f"trained here ({args.out})", ours), ("bert-base-uncased", bert)]:
        ids = [i for row in tok(held_out, add_special_tokens=False)["input_ids"] for i in row]
        unk = ids.count(tok.unk_token_id) / max(len(ids), 1)
        print(f"| {name} | {len(tok):,} | {tokens_per_word(tok, held_out):.3f} | {unk:.4%} |")


if __name__ == "__main__":
    main()
