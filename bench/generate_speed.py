"""minidistil's generate against transformers' EncoderDecoderModel.generate on the same weights.

    python bench/generate_speed.py                    # about 3 minutes on 2 idle cores
    python bench/generate_speed.py --folder PATH      # a trained translator folder instead

Both load one folder: the cached default translator when this machine has built it, else a randomly
initialised model of its shape (a 6-layer, width-384 Chinese encoder; a 6-layer, width-384 BERT
decoder over a trimmed 7,400-token English vocabulary) saved to a temporary folder, which
`EncoderDecoderModel.from_pretrained` loads as it is. Four cells: greedy and beam 4, batch 1 and 32,
sources of `--source-length` random ids, `--max-length` decoder tokens; CPU, float32, `--threads`
threads, the best of `--rounds` runs of each, the two libraries alternating. A random model barely
depends on its input and rarely writes its end token; `--eos-bias` raises that token's logit so that
rows end at different lengths, as a trained translator's do (0: nearly every row runs to max_length).
Printed per cell: both times, the ratio (transformers / minidistil), whether the tokens are equal
(the whole tensor, filler included), and the tokens per output row.
"""
from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import torch

from common import cpu_name
from minidistil.nn.config import DistilBertConfig
from minidistil.nn.decoder import DecoderConfig
from minidistil.nn.generate import generate
from minidistil.nn.seq2seq import DistilBertEncoderDecoder, EncoderDecoderConfig

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--folder", help="a translator folder (default: the cached one, else a random model of its shape)")
parser.add_argument("--source-length", type=int, default=24, help="tokens per source row")
parser.add_argument("--max-length", type=int, default=40, help="decoder tokens, the start token included")
parser.add_argument("--rounds", type=int, default=3)
parser.add_argument("--eos-bias", type=float, default=0.6,
                    help="random model: added to the end token's output bias, so that rows end at different "
                         "lengths as a trained translator's do (0: nearly every row runs to max_length)")
parser.add_argument("--threads", type=int, default=2)
args = parser.parse_args()
torch.set_num_threads(args.threads)
warnings.filterwarnings("ignore")


def default_folder() -> Path | None:
    try:
        from minidistil.utils import builds
        from minidistil.recipes.translator import translator_root
        root = translator_root()
        return root / "model" if builds.finished(root, rebuild="") and (root / "model").is_dir() else None
    except Exception:  # no cache, or a cache this version cannot read: the random model will do
        return None


def random_translator(folder: Path) -> Path:
    torch.manual_seed(0)
    config = EncoderDecoderConfig(
        DistilBertConfig(vocab_size=6000, dim=384, n_layers=6, n_heads=12, hidden_dim=1536),
        DecoderConfig(vocab_size=7400, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                      intermediate_size=1536),
        decoder_start_token_id=2, eos_token_id=3, pad_token_id=0)
    model = DistilBertEncoderDecoder(config)
    with torch.no_grad():
        model.decoder.cls.predictions.bias[config.eos_token_id] += args.eos_bias
    model.save_pretrained(folder)
    return folder


def best_of(fns) -> list[tuple[float, torch.Tensor]]:
    """The best time of each function over the rounds, the functions alternating within a round so
    that other load on a shared machine falls on both alike."""
    best, outs = [float("inf")] * len(fns), [None] * len(fns)
    for _ in range(args.rounds):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            outs[i] = fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return list(zip(best, outs))


def main():
    from transformers import EncoderDecoderModel
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder) if args.folder else default_folder() or random_translator(Path(tmp) / "translator")
        ours = DistilBertEncoderDecoder.from_pretrained(folder, impl="fast").eval()
        theirs = EncoderDecoderModel.from_pretrained(folder).eval()
    c = ours.config
    tokens = dict(decoder_start_token_id=c.decoder_start_token_id, eos_token_id=c.eos_token_id, pad_token_id=c.pad_token_id)
    print(f"CPU: {cpu_name()}; {args.threads} threads, float32; best of {args.rounds}; source {args.source_length} "
          f"tokens, max_length {args.max_length}; weights: {folder if args.folder or default_folder() else 'random, the translator shape'}")
    print(f"{'cell':<18}{'transformers (s)':>18}{'minidistil (s)':>16}{'ratio':>8}  tokens equal  tokens per row")
    g = torch.Generator().manual_seed(0)
    for beams in (1, 4):
        for batch in (1, 32):
            ids = torch.randint(5, c.encoder.vocab_size, (batch, args.source_length), generator=g)
            mask = torch.ones_like(ids)
            kw = dict(num_beams=beams, max_length=args.max_length, early_stopping=False, length_penalty=1.0)
            with torch.no_grad():
                generate(ours, ids[:1], mask[:1], **kw)  # warm up both (allocator, kernels)
                theirs.generate(input_ids=ids[:1], attention_mask=mask[:1], **kw, **tokens)
                (t_theirs, a), (t_ours, b) = best_of([
                    lambda: theirs.generate(input_ids=ids, attention_mask=mask, **kw, **tokens),
                    lambda: generate(ours, ids, mask, **kw)])
            name = f"{'greedy' if beams == 1 else 'beam 4'}, batch {batch}"
            lengths = (b != c.pad_token_id).sum(1).float()
            print(f"{name:<18}{t_theirs:>18.3f}{t_ours:>16.3f}{t_theirs / t_ours:>7.2f}x  {str(torch.equal(a, b)):<13}"
                  f"{lengths.min():.0f}-{lengths.max():.0f} (mean {lengths.mean():.1f})")


if __name__ == "__main__":
    main()
