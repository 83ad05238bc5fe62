"""The analytic FLOP count against torch's own counter (torch.utils.flop_counter), which sees every
matrix multiplication the model actually runs."""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from minidistil import DistilBertForMaskedLM
from minidistil.nn.config import DistilBertConfig
from minidistil.utils.flops import forward_flops, peak_tflops, training_flops
from minidistil.nn.model import DistilBertModel

CONFIG = dict(vocab_size=99, dim=36, n_heads=3, hidden_dim=37, n_layers=2, max_position_embeddings=64)


def counted(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


@pytest.mark.parametrize("length", [1, 13])
def test_encoder_forward_flops_equal_torchs_count(length):
    config = DistilBertConfig(**CONFIG, impl="math")
    model = DistilBertModel(config).eval()
    ids = torch.randint(5, 99, (4, length))
    assert counted(lambda: model(ids)) == forward_flops(config, [length] * 4)


def test_mlm_forward_and_training_step_flops_equal_torchs_count():
    config = DistilBertConfig(**CONFIG, impl="math")
    model = DistilBertForMaskedLM(config)
    ids = torch.randint(5, 99, (3, 11))
    assert counted(lambda: model(ids)) == forward_flops(config, [11] * 3, projected=33)
    # backward: two products per forward product (gradient of the input and of the weight)
    assert counted(lambda: model(ids, labels=ids).loss.backward()) == training_flops(config, [11] * 3, projected=33)


def test_attention_cost_is_quadratic_in_length_and_counts_real_tokens_only():
    config = DistilBertConfig(**CONFIG)
    one, two = forward_flops(config, [10]), forward_flops(config, [20])
    c, f, layers = config.dim, config.hidden_dim, config.n_layers
    assert two - 2 * one == layers * 4 * (20 * 20 - 2 * 10 * 10) * c  # the only super-linear term
    assert forward_flops(config, [10, 20]) == one + two
    assert one == layers * (8 * 10 * c * c + 4 * 10 * 10 * c + 4 * 10 * c * f)


def test_peak_table_matches_device_names_longest_first():
    assert peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0 and peak_tflops("NVIDIA A10") == 125.0
    assert peak_tflops("NVIDIA L40S") == 362.0 and peak_tflops("NVIDIA L4") == 121.0
    assert peak_tflops("Some CPU") is None
