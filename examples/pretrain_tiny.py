"""Pretrain a tiny BERT from scratch with masked language modelling, on a vocabulary of our own.

    python examples/pretrain_tiny.py                 # about 4 minutes on a busy 2-core CPU
    python examples/pretrain_tiny.py --steps 2000    # better, slower

The steps, each one library call:
1. train a WordPiece vocabulary on the registry corpora (minidistil.vocab_train.train_vocab);
2. tokenize the corpora into 64-token chunks, memory-mapped (minidistil.data.prepare_corpus);
3. build a 2-layer DistilBertForMaskedLM and train it with MLM (minidistil.train.train), holding out
   chunks for the eval pass.
The table compares the held-out MLM perplexity with what the unigram frequencies alone give: a
model that beats it has learned to read the context.
"""
import argparse
import math
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from minidistil import DistilBertConfig, DistilBertForMaskedLM, WordPieceTokenizer, sources
from minidistil.data import PrepareOptions, TokenCorpus, collate, prepare_corpus
from minidistil.mlm import mlm_task_for
from minidistil.train import TrainConfig, evaluate_losses, train
from minidistil.vocab_train import train_vocab


@dataclass
class Settings:
    out: str = "runs/pretrain-tiny"
    corpora: tuple = ("speeches", "debates", "headlines", "hamlet")
    vocab_size: int = 4000
    max_length: int = 64
    dim: int = 128
    n_layers: int = 2
    n_heads: int = 2
    hidden_dim: int = 512
    steps: int = 500
    batch_size: int = 32
    lr: float = 1e-3
    eval_chunks: int = 256
    threads: int = 1  # for a model this small a second thread buys little, and loses most on a busy machine


def main():
    defaults = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("out", "vocab_size", "steps", "batch_size", "lr", "threads"):
        parser.add_argument("--" + name.replace("_", "-"), type=type(getattr(defaults, name)),
                            default=getattr(defaults, name))
    s = Settings(**vars(parser.parse_args()))
    out = Path(s.out)
    torch.set_num_threads(s.threads)
    start = time.time()

    docs = sources.corpus(s.corpora)
    tokenizer = WordPieceTokenizer(vocab=train_vocab(docs, vocab_size=s.vocab_size))
    tokenizer.save_pretrained(out / "model")
    vocab_seconds = time.time() - start

    prepare_corpus(docs, tokenizer, out / "corpus", PrepareOptions(max_length=s.max_length), progress=True,
                   total=len(docs))
    train_data, eval_data = TokenCorpus(out / "corpus").split(s.eval_chunks)

    torch.manual_seed(0)
    config = DistilBertConfig(vocab_size=len(tokenizer), dim=s.dim, n_layers=s.n_layers, n_heads=s.n_heads,
                              hidden_dim=s.hidden_dim, max_position_embeddings=s.max_length,
                              pad_token_id=tokenizer.pad_token_id)
    model = DistilBertForMaskedLM(config)
    task = mlm_task_for(model, train_data)  # 15% masking, 80/10/10, the sparse head
    collate_fn = partial(collate, pad_token_id=tokenizer.pad_token_id)
    evaluate = partial(evaluate_losses, data=eval_data, batch_size=64, collate_fn=collate_fn)
    before = evaluate(task)["perplexity"]
    train_start = time.time()
    result = train(task, train_data, TrainConfig(out_dir=str(out / "train"), max_steps=s.steps,
                                                 batch_size=s.batch_size, lr=s.lr, warmup=0.05, log_every=10),
                   collate_fn=collate_fn, eval_fn=evaluate)
    train_seconds = time.time() - train_start
    model.save_pretrained(out / "model")

    counts = train_data.counts.astype(np.float64)
    counts[list(train_data.special_ids.values())] = 0  # special tokens are never prediction targets
    p = counts[counts > 0] / counts.sum()
    unigram = math.exp(-(p * np.log(p)).sum())  # exp(entropy) of the token frequencies
    rows = [("vocabulary (ours, trained here)", f"{len(tokenizer):,} tokens in {vocab_seconds:.0f} s"),
            ("training chunks / held out", f"{len(train_data):,} / {len(eval_data):,} of {s.max_length} tokens"),
            ("model", f"{s.n_layers} layers x {s.dim}, {sum(p.numel() for p in model.parameters()):,} parameters"),
            ("steps x batch", f"{s.steps} x {s.batch_size} in {train_seconds:.0f} s"),
            ("held-out MLM perplexity, random init", f"{before:,.1f}"),
            ("held-out MLM perplexity, trained", f"{result['eval_perplexity']:,.1f}"),
            ("unigram perplexity (frequencies only)", f"{unigram:,.1f}"),
            ("saved", str(out / "model"))]
    width = max(len(r[0]) for r in rows)
    print("\n" + "\n".join(f"| {a:<{width}} | {b} |" for a, b in rows))


if __name__ == "__main__":
    main()
