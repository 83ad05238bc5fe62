"""Look inside a forward pass: the tokens, the shape at every stage, and the attention maps.

    python examples/look_inside.py
    python examples/look_inside.py --text "The cat sat on the mat." --png runs/attention.png

Runs all-MiniLM-L6-v2 (converted to DistilBERT on load) on one sentence. The first block is
walked through by hand, op by op, with the model's own weights, and checked against the model's
own output; the other blocks are summarised. With matplotlib installed (`pip install matplotlib`)
the attention maps of every layer (averaged over heads) and of the first heads of the last layer
are saved as a PNG.
"""
from dataclasses import dataclass
import math
from pathlib import Path

import torch

from minidistil import DistilBertModel, WordPieceTokenizer
from minidistil.data import sources
from minidistil.cli.flags import parse_settings


@dataclass
class Settings:
    text: str = "The striker scored twice, and the crowd went wild."  # the text to run
    png: str = "runs/attention.png"  # where the attention maps go (with matplotlib installed)


args = parse_settings(Settings, __doc__)

folder = sources.teacher_dir()
tokenizer = WordPieceTokenizer.from_pretrained(folder)
model = DistilBertModel.from_pretrained(folder, impl="math").eval()  # the written-out equations
config = model.config

enc = tokenizer(args.text, return_tensors="pt")
ids = enc["input_ids"]
tokens = tokenizer.convert_ids_to_tokens(ids[0].tolist())
print(f"text    {args.text!r}")
print(f"tokens  {tokens}")
print(f"ids     {ids[0].tolist()}\n")


def show(stage, tensor, note=""):
    print(f"{stage:<44}{str(tuple(tensor.shape)):<18}{note}")


B, T = ids.shape
C, H, D, F = config.dim, config.n_heads, config.head_dim, config.hidden_dim
print(f"B={B} sentence, T={T} tokens, C={C} width, H={H} heads of D={D}, F={F} FFN, L={config.n_layers} layers\n")
with torch.no_grad():
    emb = model.embeddings
    show("input_ids", ids, "(B, T)")
    words = emb.word_embeddings(ids)
    show("token embedding", words, f"one row of a ({config.vocab_size}, {C}) table per token")
    positions = emb.position_embeddings(torch.arange(T))
    show("position embedding", positions, "(T, C), broadcast over the batch")
    x = emb.LayerNorm(words + positions)
    show("LayerNorm(token + position)", x, "(B, T, C): the block input")

    block = model.transformer.layer[0]
    att = block.attention
    q, k, v = (lin(x).view(B, T, H, D).transpose(1, 2) for lin in (att.q_lin, att.k_lin, att.v_lin))
    show("block 0: q, k, v split into heads", q, "(B, T, C) -> (B, H, T, D)")
    scores = q @ k.transpose(-2, -1) / math.sqrt(D)
    show("q @ k^T / sqrt(D)", scores, "(B, H, T, D) @ (B, H, D, T) -> (B, H, T, T)")
    weights = scores.softmax(-1)
    show("softmax over keys", weights, "each row sums to 1")
    heads = weights @ v
    show("weights @ v", heads, "(B, H, T, T) @ (B, H, T, D) -> (B, H, T, D)")
    merged = att.out_lin(heads.transpose(1, 2).reshape(B, T, C))
    show("heads merged, out_lin", merged, "(B, H, T, D) -> (B, T, C)")
    x = block.sa_layer_norm(x + merged)
    show("sa_layer_norm(x + attention)", x, "residual, then LayerNorm (post-LN, as BERT)")
    inner = block.ffn.lin1(x)
    show("ffn.lin1", inner, "(B, T, C) -> (B, T, F)")
    x = block.output_layer_norm(x + block.ffn.lin2(torch.nn.functional.gelu(inner)))
    show("output_layer_norm(x + lin2(gelu(lin1)))", x, "(B, T, F) -> (B, T, C)")

    out = model(ids, output_hidden_states=True, output_attentions=True)
    print(f"\nblock 0 by hand vs the model: max |difference| = {(x - out.hidden_states[1]).abs().max():.2e}\n")
    for i in range(1, config.n_layers):
        show(f"block {i}", out.hidden_states[i + 1])
    show("last_hidden_state", out.last_hidden_state)
    pooled = torch.nn.functional.normalize(out.last_hidden_state.mean(1), dim=-1)
    show("mean over tokens, L2-normalised", pooled, "the sentence embedding (B, C)")

    print("\nwhere each token looks most, last layer, averaged over heads:")
    last = out.attentions[-1][0].mean(0)  # (H, T, T) -> (T, T)
    for t, row in zip(tokens, last):
        top = row.topk(2)
        print(f"  {t:>12} -> " + ", ".join(f"{tokens[j]} {w:.2f}" for w, j in zip(top.values.tolist(), top.indices.tolist())))

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("\nmatplotlib is not installed: `pip install matplotlib` to save the attention maps as a PNG")
else:
    L = config.n_layers
    fig, axes = plt.subplots(2, max(L, 6), figsize=(3 * max(L, 6), 6.4))
    panels = [(f"layer {i}, mean of heads", out.attentions[i][0].mean(0)) for i in range(L)]
    panels += [(f"layer {L - 1}, head {h}", out.attentions[-1][0, h]) for h in range(max(L, 6))]
    for ax, (title, weights) in zip(axes.flat, panels):
        ax.imshow(weights.numpy(), cmap="viridis", vmin=0, vmax=1)
        ax.set_title(title, fontsize=8)
        ax.set_xticks(range(T), tokens, rotation=90, fontsize=5)
        ax.set_yticks(range(T), tokens, fontsize=5)
    fig.tight_layout()
    Path(args.png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.png, dpi=120)
    print(f"\nattention maps saved to {args.png}")
