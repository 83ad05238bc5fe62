"""Tiny translators for the seq2seq tests: ours and transformers' EncoderDecoderModel with the same weights.

Odd sizes (width 12, 3 heads, vocabularies 37 and 41, FFN 17 and 19) turn transposition bugs into
shape errors; weights re-initialised with std 0.5 make the exact GELU and every LayerNorm matter.
"""
import torch
from transformers import BertConfig, BertLMHeadModel, EncoderDecoderModel
from transformers import DistilBertConfig as HFDistilBertConfig
from transformers import DistilBertModel as HFDistilBertModel

from minidistil.nn.config import DistilBertConfig
from minidistil.nn.decoder import DecoderConfig
from minidistil.nn.seq2seq import DistilBertEncoderDecoder, EncoderDecoderConfig

PAD, START, EOS = 0, 1, 2
ENC = dict(vocab_size=37, dim=12, n_heads=3, hidden_dim=17, n_layers=2, max_position_embeddings=24)
DEC = dict(vocab_size=41, hidden_size=12, num_attention_heads=3, intermediate_size=19, num_hidden_layers=2,
           max_position_embeddings=24)


def tiny_config(impl="math", enc=None, dec=None) -> EncoderDecoderConfig:
    return EncoderDecoderConfig(DistilBertConfig(**{**ENC, **(enc or {})}, impl=impl),
                                DecoderConfig(**{**DEC, **(dec or {})}, impl=impl),
                                decoder_start_token_id=START, eos_token_id=EOS, pad_token_id=PAD)


def hf_twin(ours: DistilBertEncoderDecoder, attn_implementation: str = "sdpa") -> EncoderDecoderModel:
    """transformers' EncoderDecoderModel with our weights, loaded strictly by key ("eager" attention
    to compare attention weights: transformers' sdpa path returns none)."""
    e, d = ours.config.encoder, ours.config.decoder
    encoder = HFDistilBertModel(HFDistilBertConfig(vocab_size=e.vocab_size, dim=e.dim, n_heads=e.n_heads,
                                                   hidden_dim=e.hidden_dim, n_layers=e.n_layers,
                                                   max_position_embeddings=e.max_position_embeddings,
                                                   attn_implementation=attn_implementation))
    decoder = BertLMHeadModel(BertConfig(vocab_size=d.vocab_size, hidden_size=d.hidden_size,
                                         num_attention_heads=d.num_attention_heads,
                                         intermediate_size=d.intermediate_size, num_hidden_layers=d.num_hidden_layers,
                                         max_position_embeddings=d.max_position_embeddings, is_decoder=True,
                                         add_cross_attention=True, pad_token_id=PAD,
                                         attn_implementation=attn_implementation))
    hf = EncoderDecoderModel(encoder=encoder, decoder=decoder)
    hf.config.decoder_start_token_id, hf.config.pad_token_id, hf.config.eos_token_id = START, PAD, EOS
    hf.load_state_dict(ours.state_dict(), strict=True)
    return hf.eval()


def tiny_pair(impl="math", seed=0, std=0.5, eos_bias=0.0, enc=None, dec=None):
    """(ours, transformers') on the same random weights. eos_bias raises the end token's logit so
    that generated rows end at different lengths."""
    torch.manual_seed(seed)
    ours = DistilBertEncoderDecoder(tiny_config(impl, enc, dec)).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0.0, std)
        ours.decoder.cls.predictions.bias[EOS] += eos_bias
    return ours, hf_twin(ours)


def padded_source(seed=0, B=3, S=7):
    """A source batch with right padding of different lengths (row 0 full)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, ENC["vocab_size"], (B, S), generator=g)
    lengths = torch.tensor([S, S - 3, 2][:B])
    mask = (torch.arange(S)[None] < lengths[:, None]).long()
    return ids.masked_fill(mask == 0, PAD), mask


def padded_labels(seed=0, B=3, T=6):
    """Target labels [y1 .. yn, EOS], -100 after the end."""
    g = torch.Generator().manual_seed(seed + 100)
    labels = torch.randint(3, DEC["vocab_size"], (B, T), generator=g)
    lengths = torch.tensor([T, 3, 1][:B])
    labels[torch.arange(B), lengths - 1] = EOS
    return labels.masked_fill(torch.arange(T)[None] >= lengths[:, None], -100)


def generating_pair(seed=0, eos_bias=1.5, impl="fast"):
    """(ours, transformers') whose outputs vary with the source and end at different lengths: weight
    matrices std 0.3, vectors std 0.1, LayerNorm weights near 1 (with std 0.5 everywhere a random
    decoder writes one token over and over), the end token's logit raised by eos_bias."""
    ours, _ = tiny_pair(impl, seed, std=0.3)
    with torch.no_grad():
        for name, p in ours.named_parameters():
            if p.dim() < 2:
                p.normal_(0.0, 0.1)
                if name.endswith(("LayerNorm.weight", "layer_norm.weight")):
                    p.add_(1.0)
        ours.decoder.cls.predictions.bias[EOS] += eos_bias
    return ours, hf_twin(ours)
