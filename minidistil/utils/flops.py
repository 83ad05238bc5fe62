"""How much arithmetic a forward pass is, and how much of a chip's peak a run uses.

Model FLOPs count the matrix multiplications the model needs for its real tokens (a multiply-add is
2 FLOPs); LayerNorm, GELU, softmax and embedding lookups are a few percent and left out, as in the
usual MFU definition (Chowdhery et al. 2022, "PaLM", appendix B). Per layer and sequence of T real
tokens, with width C and FFN size F:

    q, k, v, out_lin      4 x 2 T C C
    q kᵀ and weights @ v  2 x 2 T T C    (summed over the heads: H heads of size D = C / H)
    lin1, lin2            2 x 2 T C F

A training step is 3x the forward: the backward pass multiplies by each weight matrix twice, once
for the gradient of its input and once for the gradient of the weight. Model FLOPs utilisation
(MFU) is achieved FLOP/s over the hardware's peak: padding, recomputation and kernel overheads all
count against it, which is what makes it comparable across implementations.
"""
from __future__ import annotations

from typing import Iterable

# Dense bf16 peak of common accelerators, TFLOP/s, from their vendors' data sheets (no sparsity).
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0,
                    "RTX 4090": 165.2, "RTX 3090": 71.0}


def forward_flops(config, lengths: Iterable[int], projected: int = 0) -> int:
    """Matmul FLOPs of one encoder forward over sequences of the given real lengths, plus the MLM
    head (vocab_transform and the projector onto the vocabulary) at `projected` positions."""
    c, f = config.dim, config.hidden_dim
    per_layer = sum(8 * t * c * c + 4 * t * t * c + 4 * t * c * f for t in lengths)
    head = projected * (2 * c * c + 2 * c * config.vocab_size)
    return config.n_layers * per_layer + head


def training_flops(config, lengths: Iterable[int], projected: int = 0) -> int:
    """Forward + backward: three times the forward."""
    return 3 * forward_flops(config, lengths, projected)


def peak_tflops(device_name: str) -> float | None:
    """The dense bf16 peak of a device named like torch.cuda.get_device_name() ("NVIDIA H100 80GB HBM3"),
    or None for a device not in the table (pass the peak yourself)."""
    for name, peak in sorted(PEAK_BF16_TFLOPS.items(), key=lambda kv: -len(kv[0])):  # "L40S" before "L4"
        if name in device_name:
            return peak
    return None
