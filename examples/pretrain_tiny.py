"""Pretrain a tiny BERT from scratch with masked language modelling, on a vocabulary of our own.

    python examples/pretrain_tiny.py                     # about 4 minutes on a busy 2-core CPU
    python examples/pretrain_tiny.py --max-steps 2000    # better, slower

The steps, each one library call:
1. train a WordPiece vocabulary on the registry corpora (minidistil.tokenizer.vocab_train.train_vocab);
2. tokenize the corpora into 64-token chunks, memory-mapped (minidistil.data.prepare_corpus);
3. pretrain a 2-layer BERT with MLM (minidistil.recipes.recipe.pretrain, as `python -m minidistil pretrain`),
   holding out chunks for the eval pass.
The table compares the held-out MLM perplexity with what the unigram frequencies alone give: a
model that beats it has learned to read the context.
"""
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from minidistil import WordPieceTokenizer
from minidistil.data import sources
from minidistil.cli.flags import parse_settings
from minidistil.data import PrepareOptions, TokenCorpus, prepare_corpus
from minidistil.recipes.recipe import PretrainSettings, fresh_model, mlm_perplexity, pretrain
from minidistil.training.train import TrainConfig
from minidistil.tokenizer.vocab_train import train_vocab


@dataclass
class Settings:
    out: str = "runs/pretrain-tiny"  # corpus/, and the run: model/, checkpoint.pt, metrics.jsonl
    corpora: str = "speeches,debates,headlines,hamlet"  # names in minidistil.data.sources.CORPORA
    vocab_size: int = 4000        # tokens in the vocabulary trained here
    max_length: int = 64          # tokens per chunk
    dim: int = 128                # model width
    n_layers: int = 2             # transformer blocks
    n_heads: int = 2              # attention heads
    hidden_dim: int = 512         # FFN size
    max_steps: int = 500          # optimizer steps
    batch_size: int = 32          # chunks per step
    lr: float = 1e-3              # peak learning rate
    eval_chunks: int = 256        # chunks held out for the perplexity
    threads: int = 1              # for a model this small a second thread buys little, and loses most on a busy machine


def main():
    s = parse_settings(Settings, __doc__)
    out = Path(s.out)
    torch.set_num_threads(s.threads)
    start = time.time()

    docs = sources.corpus(tuple(s.corpora.split(",")))
    tokenizer = WordPieceTokenizer(vocab=train_vocab(docs, vocab_size=s.vocab_size))
    vocab_seconds = time.time() - start

    prepare_corpus(docs, tokenizer, out / "corpus", PrepareOptions(max_length=s.max_length), progress=True,
                   total=len(docs))
    train_data, eval_data = TokenCorpus(out / "corpus").split(s.eval_chunks)

    settings = PretrainSettings(dim=s.dim, n_layers=s.n_layers, n_heads=s.n_heads, hidden_dim=s.hidden_dim)
    before = mlm_perplexity(fresh_model(train_data, settings), train_data, eval_data, batch_size=64)["perplexity"]
    config = TrainConfig(out_dir=str(out), max_steps=s.max_steps, batch_size=s.batch_size, lr=s.lr, warmup=0.05,
                         log_every=10)
    train_start = time.time()
    model, result = pretrain(train_data, config, settings, eval_data)  # 15% masking, 80/10/10, the sparse head
    train_seconds = time.time() - train_start

    counts = train_data.counts.astype(np.float64)
    counts[list(train_data.special_ids.values())] = 0  # special tokens are never prediction targets
    p = counts[counts > 0] / counts.sum()
    unigram = math.exp(-(p * np.log(p)).sum())  # exp(entropy) of the token frequencies
    rows = [("vocabulary (ours, trained here)", f"{len(tokenizer):,} tokens in {vocab_seconds:.0f} s"),
            ("training chunks / held out", f"{len(train_data):,} / {len(eval_data):,} of {s.max_length} tokens"),
            ("model", f"{s.n_layers} layers x {s.dim}, {sum(p.numel() for p in model.parameters()):,} parameters"),
            ("steps x batch", f"{s.max_steps} x {s.batch_size} in {train_seconds:.0f} s"),
            ("held-out MLM perplexity, random init", f"{before:,.1f}"),
            ("held-out MLM perplexity, trained", f"{result['eval_perplexity']:,.1f}"),
            ("unigram perplexity (frequencies only)", f"{unigram:,.1f}"),
            ("saved", str(out / "model"))]
    width = max(len(r[0]) for r in rows)
    print("\n" + "\n".join(f"| {a:<{width}} | {b} |" for a, b in rows))


if __name__ == "__main__":
    main()
