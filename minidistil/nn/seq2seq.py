"""The translator: our DistilBertModel reads the source, a BERT decoder (decoder.py) writes the target.

transformers' `EncoderDecoderModel(encoder=DistilBertModel, decoder=BertLMHeadModel)` with the same
keys (`encoder.*`, `decoder.bert.*`, `decoder.cls.*`, `enc_to_dec_proj.*` when the widths differ),
the same config.json layout, and the loss computed the same way:

    decoder_input_ids = shift_right(labels)     # [start, y1, .., y_{n-1}]: shifted ONCE, here only
    logits = decoder(decoder_input_ids, encoder(input_ids))
    loss = cross_entropy(logits[t], labels[t])  # no second shift inside the decoder

Labels are the target tokens WITHOUT the start token and with the end token: [y1 .. yn, [SEP]],
-100 on padding. Two classic bugs are refused with a sentence instead of being learned
(transformers issues #14989 and #32344): labels that begin with the start token (the tokenizer's
[CLS] left in, so the decoder reads "[CLS] [CLS] ..." and learns to copy it), and labels that
hold the pad id where -100 belongs (the model then learns to write padding).

Warm start (Rothe, Narayan and Severyn 2020): `warm_start(encoder_folder, decoder_folder)` takes the
encoder from a DistilBERT or BERT folder and the decoder's embeddings, self-attention, FFN and MLM
head from a BERT or DistilBERT folder; only the cross-attention starts fresh (a decoder folder that
has cross-attention weights keeps them).

A translator folder: config.json (model_type "encoder-decoder"), model.safetensors, and the two
tokenizers in `source_tokenizer/` and `target_tokenizer/`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from minidistil.nn import checkpoint
from minidistil.nn.config import DistilBertConfig, read_json
from minidistil.nn.decoder import BertDecoder, DecoderConfig
from minidistil.nn.generation_config import GenerationConfig
from minidistil.nn.losses import IGNORE_INDEX
from minidistil.nn.model import DistilBertModel, check_ids, check_mask, init_bert_weights

SOURCE_TOKENIZER, TARGET_TOKENIZER = "source_tokenizer", "target_tokenizer"
TIED_KEYS = ("decoder.cls.predictions.decoder.weight", "decoder.cls.predictions.decoder.bias")


@dataclass
class EncoderDecoderConfig:
    encoder: DistilBertConfig = field(default_factory=DistilBertConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    decoder_start_token_id: int = 101     # the first decoder input ([CLS] in a BERT vocabulary)
    eos_token_id: int = 102               # the end of a target ([SEP])
    pad_token_id: int = 0                 # padding of targets ([PAD])
    source_lang: str = "zh"
    target_lang: str = "en"

    def __post_init__(self):
        V = self.decoder.vocab_size
        for name in ("decoder_start_token_id", "eos_token_id", "pad_token_id"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < V:
                raise ValueError(f"config.{name} must be an id of the target vocabulary [0, {V}), got {value!r}")

    def to_dict(self) -> dict:
        """transformers' EncoderDecoderConfig layout: it loads our folders, and we load its."""
        return {"model_type": "encoder-decoder", "is_encoder_decoder": True, "architectures": ["EncoderDecoderModel"],
                "encoder": self.encoder.to_dict(), "decoder": self.decoder.to_dict(),
                "decoder_start_token_id": self.decoder_start_token_id, "eos_token_id": self.eos_token_id,
                "pad_token_id": self.pad_token_id, "tie_encoder_decoder": False,
                "task": "translation", "source_lang": self.source_lang, "target_lang": self.target_lang}

    @classmethod
    def from_dict(cls, d: dict, impl: str | None = None) -> "EncoderDecoderConfig":
        return cls(encoder=DistilBertConfig.from_dict(d["encoder"], impl=impl),
                   decoder=DecoderConfig.from_dict(d["decoder"], impl=impl),
                   **{k: d[k] for k in ("decoder_start_token_id", "eos_token_id", "pad_token_id",
                                        "source_lang", "target_lang") if d.get(k) is not None})

    def save(self, folder) -> Path:
        path = Path(folder) / "config.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        return path


class Seq2SeqOutput(NamedTuple):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None            # (B, T, V)
    encoder_last_hidden_state: torch.Tensor | None = None  # (B, S, C)
    decoder_last_hidden_state: torch.Tensor | None = None  # (B, T, C)
    # with output_hidden_states / output_attentions, transformers' Seq2SeqLMOutput names:
    encoder_hidden_states: tuple | None = None    # L + 1 tensors (B, S, C)
    encoder_attentions: tuple | None = None       # L tensors (B, H, S, S)
    decoder_hidden_states: tuple | None = None    # L + 1 tensors (B, T, C)
    decoder_attentions: tuple | None = None       # L tensors (B, H, T, T)
    cross_attentions: tuple | None = None         # L tensors (B, H, T, S)


def shift_right(labels: torch.Tensor, start_id: int, pad_id: int) -> torch.Tensor:
    """[y1 .. yn] -> [start, y1 .. y_{n-1}]: the decoder reads token t-1 to predict token t. The
    labels' -100 become pad ids (the embedding cannot read -100)."""
    shifted = torch.full_like(labels, start_id)
    shifted[:, 1:] = labels[:, :-1]
    return shifted.masked_fill(shifted == IGNORE_INDEX, pad_id)


def check_labels(config: EncoderDecoderConfig, labels) -> None:
    check_ids(labels, ("batch", "target tokens"))
    real = labels[labels != IGNORE_INDEX]
    V = config.decoder.vocab_size
    if real.numel() and (real.min() < 0 or real.max() >= V):
        raise ValueError(f"labels must be target-vocabulary ids in [0, {V}) or {IGNORE_INDEX} (not scored), "
                         f"got ids from {int(real.min())} to {int(real.max())}")
    if (real == config.pad_token_id).any():
        raise ValueError(f"labels hold the pad id {config.pad_token_id}; label padding with {IGNORE_INDEX} so that "
                         f"the loss skips it (transformers issue #32344), e.g. with minidistil.nn.seq2seq.target_labels")
    if labels.shape[1] and bool((labels[:, 0] == config.decoder_start_token_id).all()):
        raise ValueError(f"every row of labels begins with the start token {config.decoder_start_token_id}; "
                         f"labels are the target without it (the model shifts them right once and puts it "
                         f"in front), so drop it, e.g. with minidistil.nn.seq2seq.target_labels")


def target_labels(rows: list[list[int]], start_id: int, eos_id: int) -> list[list[int]]:
    """Tokenizer rows ([CLS] y1 .. yn [SEP]) -> labels [y1 .. yn [SEP]]: the start token dropped, the end kept."""
    out = []
    for row in rows:
        row = list(row)
        if row and row[0] == start_id:
            row = row[1:]
        if not row or row[-1] != eos_id:
            row = row + [eos_id]
        out.append(row)
    return out


def label_smoothed_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy over the labelled positions; with smoothing e the target is (1 - e) on the
    gold token plus e spread evenly over the vocabulary (Szegedy et al. 2016; Vaswani et al. 2017: e = 0.1)."""
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"label smoothing must be in [0, 1), got {smoothing}")
    return F.cross_entropy(logits.flatten(0, -2).float(), labels.flatten(), ignore_index=IGNORE_INDEX,
                           label_smoothing=smoothing)


class DistilBertEncoderDecoder(nn.Module):
    """DistilBertModel encoder + BERT decoder with cross-attention (transformers' EncoderDecoderModel)."""

    def __init__(self, config: EncoderDecoderConfig):
        super().__init__()
        self.config = config
        self.encoder = DistilBertModel(config.encoder)
        self.decoder = BertDecoder(config.decoder)
        if config.encoder.dim != config.decoder.hidden_size and config.decoder.cross_attention_hidden_size is None:
            # transformers' projection when the widths differ (a MiniLM encoder, a BERT-base decoder)
            self.enc_to_dec_proj = nn.Linear(config.encoder.dim, config.decoder.hidden_size)
            init_bert_weights(self.enc_to_dec_proj, config.decoder.initializer_range)
        # generate()'s settings: generation_config.json when loaded from a folder, else the defaults
        self.generation_config = GenerationConfig.from_model_config(config)

    def generate(self, input_ids=None, attention_mask=None, **settings):
        """transformers' `model.generate(...)`: `minidistil.generate.generate(self, ...)`."""
        from .generate import generate
        return generate(self, input_ids, attention_mask, **settings)

    @staticmethod
    def compute_transition_scores(sequences, scores, beam_indices=None, normalize_logits: bool = False):
        """transformers' `model.compute_transition_scores(...)` (minidistil.generation_outputs)."""
        from .generation_outputs import compute_transition_scores
        return compute_transition_scores(sequences, scores, beam_indices, normalize_logits)

    def gradient_checkpointing_enable(self) -> None:
        """Recompute each encoder and decoder block in the backward pass instead of keeping its
        activations: less memory for about one more forward's time (Chen et al. 2016)."""
        self.encoder.transformer.gradient_checkpointing = True
        self.decoder.gradient_checkpointing = True

    def run_encoder(self, input_ids=None, attention_mask=None, *, inputs_embeds=None, output_attentions=False,
                    output_hidden_states=False):
        """The encoder's BaseModelOutput for (B, S) source ids, or for inputs_embeds (B, S, C) given in
        place of the token embeddings (positions, LayerNorm and dropout still added, as transformers)."""
        if inputs_embeds is None:
            return self.encoder(input_ids, attention_mask, output_hidden_states, output_attentions)
        if input_ids is not None:
            raise ValueError("pass input_ids or inputs_embeds, not both")
        emb = self.encoder.embeddings
        B, S, _ = inputs_embeds.shape
        x = emb.dropout(emb.LayerNorm(inputs_embeds + emb.position_embeddings(torch.arange(S, device=inputs_embeds.device))))
        keep = torch.ones(B, S, dtype=torch.bool, device=x.device) if attention_mask is None else attention_mask.bool()
        return self.encoder.transformer(x, keep, output_hidden_states, output_attentions)

    def project(self, states: torch.Tensor) -> torch.Tensor:
        """Encoder states -> the width the cross-attention reads (transformers' enc_to_dec_proj)."""
        return self.enc_to_dec_proj(states) if hasattr(self, "enc_to_dec_proj") else states

    def encode(self, input_ids, attention_mask=None) -> torch.Tensor:
        """(B, S) source ids -> (B, S, C) states the decoder's cross-attention reads."""
        return self.project(self.encoder(input_ids, attention_mask).last_hidden_state)

    def forward(self, input_ids=None, attention_mask=None, labels=None, decoder_input_ids=None,
                decoder_attention_mask=None, label_smoothing: float = 0.0, *, inputs_embeds=None,
                decoder_inputs_embeds=None, output_attentions: bool = False,
                output_hidden_states: bool = False) -> Seq2SeqOutput:
        """input_ids, attention_mask: (B, S) source (or inputs_embeds (B, S, C)). labels: (B, T) target
        ids, -100 on padding: the decoder inputs are then `shift_right(labels)` and the loss is
        label-smoothed cross-entropy against labels, position by position. Or pass decoder_input_ids
        (B, T) (or decoder_inputs_embeds (B, T, C)) yourself."""
        if decoder_inputs_embeds is not None:
            return self.forward_embeds(input_ids, attention_mask, labels, decoder_inputs_embeds,
                                       decoder_attention_mask, label_smoothing, inputs_embeds)
        if labels is None and decoder_input_ids is None:
            raise ValueError("pass labels (training: the decoder inputs are made from them) or "
                             "decoder_input_ids (the target so far, starting with decoder_start_token_id)")
        if labels is not None:
            check_labels(self.config, labels)
            if decoder_input_ids is None:
                decoder_input_ids = shift_right(labels, self.config.decoder_start_token_id, self.config.pad_token_id)
                if decoder_attention_mask is None:
                    # transformers masks `decoder_input_ids != pad`: the shifted padding, and the start
                    # token too when it is the pad id (T5-style); that query then reads nothing.
                    decoder_attention_mask = (decoder_input_ids != self.config.pad_token_id).long()
        check_ids(decoder_input_ids, ("batch", "target tokens"))
        check_mask(decoder_attention_mask, tuple(decoder_input_ids.shape))
        source = input_ids if input_ids is not None else inputs_embeds
        if decoder_input_ids.shape[0] != source.shape[0]:
            raise ValueError(f"the source batch has {source.shape[0]} rows but the target batch "
                             f"{decoder_input_ids.shape[0]}; give one target per source")
        enc = self.run_encoder(input_ids, attention_mask, inputs_embeds=inputs_embeds,
                               output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        memory = self.project(enc.last_hidden_state)
        out = self.decoder(decoder_input_ids, memory, attention_mask, decoder_attention_mask,
                           output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        loss = None if labels is None else label_smoothed_cross_entropy(out.logits, labels, label_smoothing)
        return Seq2SeqOutput(loss, out.logits, memory, out.last_hidden_state, enc.hidden_states, enc.attentions,
                             out.hidden_states, out.attentions, out.cross_attentions)

    def forward_embeds(self, input_ids, attention_mask, labels, decoder_inputs_embeds, decoder_attention_mask,
                       label_smoothing, inputs_embeds) -> Seq2SeqOutput:
        """forward with decoder_inputs_embeds (B, T, C) in place of the decoder's token embeddings."""
        enc = self.run_encoder(input_ids, attention_mask, inputs_embeds=inputs_embeds)
        memory = self.project(enc.last_hidden_state)
        out = self.decoder(None, memory, attention_mask, decoder_attention_mask, inputs_embeds=decoder_inputs_embeds)
        loss = None if labels is None else label_smoothed_cross_entropy(out.logits, labels, label_smoothing)
        return Seq2SeqOutput(loss, out.logits, memory, out.last_hidden_state)

    # ------------------------------------------------------------------ folders

    def save_pretrained(self, folder, source_tokenizer=None, target_tokenizer=None) -> Path:
        """config.json + model.safetensors (the tied projector left out, as transformers), and the
        tokenizers in source_tokenizer/ and target_tokenizer/."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.config.save(folder)
        self.generation_config.save_pretrained(folder)
        state = self.state_dict()
        if self.config.decoder.tie_word_embeddings:
            state.pop(TIED_KEYS[0], None)
        state.pop(TIED_KEYS[1], None)  # the same parameter as decoder.cls.predictions.bias
        checkpoint.write_safetensors(state, folder / "model.safetensors")
        for name, tok in ((SOURCE_TOKENIZER, source_tokenizer), (TARGET_TOKENIZER, target_tokenizer)):
            if tok is not None:
                tok.save_pretrained(folder / name)
        return folder

    @classmethod
    def from_pretrained(cls, folder, impl: str | None = None) -> "DistilBertEncoderDecoder":
        config = read_translator_config(folder, impl)
        model = cls(config)
        state = checkpoint.read_state_dict(folder)
        expected = model.state_dict()
        for key in TIED_KEYS:
            if key not in state:
                expected.pop(key, None)
        checkpoint.check_keys(Path(folder), expected, state, has_head=False, new_head=False)
        model.load_state_dict(state, strict=False)
        model.decoder.tie_weights()
        saved = GenerationConfig.from_pretrained(folder)
        if saved is not None:  # the special tokens come from config.json where the file leaves them out
            model.generation_config = model.generation_config.update(
                **{k: v for k, v in saved.to_dict().items()})
        return model.eval()


def read_translator_config(folder, impl: str | None = None) -> EncoderDecoderConfig:
    """The folder's config, or one sentence saying why the folder is not a translator."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"no config.json in {folder}; a translator folder holds config.json, "
                                f"model.safetensors and its two tokenizers (train one with "
                                f"`python -m minidistil train-translator`)")
    raw = read_json(path)
    if raw.get("model_type") != "encoder-decoder" or raw.get("encoder", {}).get("model_type") != "distilbert" \
            or raw.get("decoder", {}).get("model_type") != "bert":
        kind = raw.get("model_type", "no model_type")
        raise checkpoint.CheckpointError(
            f"{folder} is not a translator: its config.json says {kind!r}, where a translator is an "
            f"'encoder-decoder' with a DistilBERT encoder and a BERT decoder (train one with "
            f"`python -m minidistil train-translator`)")
    try:
        return EncoderDecoderConfig.from_dict(raw, impl=impl)
    except (ValueError, TypeError, KeyError) as e:
        raise checkpoint.CheckpointError(f"{path}: {e}") from None


def load_tokenizers(folder):
    """(source tokenizer, target tokenizer) of a translator folder."""
    from minidistil.tokenizer import WordPieceTokenizer
    folder = Path(folder)
    missing = [n for n in (SOURCE_TOKENIZER, TARGET_TOKENIZER) if not (folder / n / "vocab.txt").is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} has no {' or '.join(missing)}/vocab.txt; save the translator with "
                                f"save_pretrained(folder, source_tokenizer, target_tokenizer)")
    return (WordPieceTokenizer.from_pretrained(folder / SOURCE_TOKENIZER),
            WordPieceTokenizer.from_pretrained(folder / TARGET_TOKENIZER))


# ------------------------------------------------------------------ warm start

# DistilBERT keys (BERT folders are converted to these first) -> the decoder's BERT keys.
DECODER_KEY_TABLE = {
    r"distilbert\.embeddings\.(word_embeddings|position_embeddings|LayerNorm)\.(weight|bias)": "bert.embeddings.{0}.{1}",
    r"distilbert\.transformer\.layer\.(\d+)\.attention\.q_lin\.(weight|bias)": "bert.encoder.layer.{0}.attention.self.query.{1}",
    r"distilbert\.transformer\.layer\.(\d+)\.attention\.k_lin\.(weight|bias)": "bert.encoder.layer.{0}.attention.self.key.{1}",
    r"distilbert\.transformer\.layer\.(\d+)\.attention\.v_lin\.(weight|bias)": "bert.encoder.layer.{0}.attention.self.value.{1}",
    r"distilbert\.transformer\.layer\.(\d+)\.attention\.out_lin\.(weight|bias)": "bert.encoder.layer.{0}.attention.output.dense.{1}",
    r"distilbert\.transformer\.layer\.(\d+)\.sa_layer_norm\.(weight|bias)": "bert.encoder.layer.{0}.attention.output.LayerNorm.{1}",
    r"distilbert\.transformer\.layer\.(\d+)\.ffn\.lin1\.(weight|bias)": "bert.encoder.layer.{0}.intermediate.dense.{1}",
    r"distilbert\.transformer\.layer\.(\d+)\.ffn\.lin2\.(weight|bias)": "bert.encoder.layer.{0}.output.dense.{1}",
    r"distilbert\.transformer\.layer\.(\d+)\.output_layer_norm\.(weight|bias)": "bert.encoder.layer.{0}.output.LayerNorm.{1}",
    r"vocab_transform\.(weight|bias)": "cls.predictions.transform.dense.{0}",
    r"vocab_layer_norm\.(weight|bias)": "cls.predictions.transform.LayerNorm.{0}",
    r"vocab_projector\.(bias)": "cls.predictions.{0}",
}


def read_as_distilbert(folder) -> tuple[DistilBertConfig, dict]:
    """A DistilBERT or BERT folder as (DistilBertConfig, DistilBERT-keyed state dict)."""
    folder = Path(folder)
    state = checkpoint.read_state_dict(folder)
    config, is_bert = checkpoint.read_config(folder, state, None, {})
    if is_bert:
        state = checkpoint.convert_bert_state_dict(state)  # token type 0 folded into the positions
    elif not any(k.startswith(checkpoint.PREFIX) for k in state):
        state = {checkpoint.PREFIX + k: v for k, v in state.items()}
    return config, state


def read_bert_decoder(folder, layers: tuple[int, ...] | None = None, impl: str | None = None):
    """A BERT decoder folder that already has cross-attention (transformers' `BertLMHeadModel` with
    `add_cross_attention=True`, a trained translator's decoder saved alone) as (DecoderConfig, state
    under the decoder's keys), or None for any other folder. Its keys are ours already: everything
    loads, the cross-attention included, as `EncoderDecoderModel.from_encoder_decoder_pretrained` does."""
    folder = Path(folder)
    state = checkpoint.read_state_dict(folder)
    if not any(".crossattention." in k for k in state):
        return None
    raw = read_json(folder / "config.json")
    n = raw.get("num_hidden_layers", 12)
    if layers is not None and not all(0 <= i < n for i in layers):
        raise ValueError(f"decoder_layers {layers} must be layers of the {n}-layer decoder in {folder}")
    config = DecoderConfig.from_dict(raw, impl=impl, num_hidden_layers=len(layers) if layers else None)
    out = {}
    for key, value in state.items():
        m = re.fullmatch(r"bert\.encoder\.layer\.(\d+)\.(.*)", key)
        if m is None:
            if key.startswith(("bert.embeddings.", "cls.predictions.")):
                out[key] = value
        elif layers is None or int(m.group(1)) in layers:
            i = int(m.group(1)) if layers is None else layers.index(int(m.group(1)))
            out[f"bert.encoder.layer.{i}.{m.group(2)}"] = value
    return config, out


def decoder_config_from(encoder_config: DistilBertConfig, **overrides) -> DecoderConfig:
    """The BERT decoder with a DistilBERT (or converted BERT) config's shapes."""
    c = encoder_config
    return DecoderConfig(**{**dict(
        vocab_size=c.vocab_size, hidden_size=c.dim, num_hidden_layers=c.n_layers, num_attention_heads=c.n_heads,
        intermediate_size=c.hidden_dim, hidden_act=c.activation, hidden_dropout_prob=c.dropout,
        attention_probs_dropout_prob=c.attention_dropout, max_position_embeddings=c.max_position_embeddings,
        initializer_range=c.initializer_range, pad_token_id=c.pad_token_id, impl=c.impl), **overrides})


def decoder_state_from(state: dict, layers: tuple[int, ...] | None = None) -> dict:
    """DistilBERT keys -> decoder keys; `layers` picks which source layers become decoder layers 0, 1, ..
    (a smaller decoder, as DistilBERT's student takes one layer out of two)."""
    out = {}
    for key, value in state.items():
        for pattern, target in DECODER_KEY_TABLE.items():
            m = re.fullmatch(pattern, key)
            if m is None:
                continue
            groups = list(m.groups())
            if "layer.{0}" in target:
                i = int(groups[0])
                if layers is not None:
                    if i not in layers:
                        break
                    groups[0] = layers.index(i)
            out[target.format(*groups)] = value
            break
    return out


def warm_start(encoder_folder=None, decoder_folder=None, *, encoder_config: DistilBertConfig | None = None,
               decoder_config: DecoderConfig | None = None, decoder_layers: tuple[int, ...] | None = None,
               target_keep_ids: list[int] | None = None, start_id: int = 101, eos_id: int = 102, pad_id: int = 0,
               seed: int = 0) -> DistilBertEncoderDecoder:
    """Rothe et al.'s warm start. The encoder comes from `encoder_folder` (or random with
    `encoder_config`); the decoder's embeddings, self-attention, FFN and output head from
    `decoder_folder` (or random with `decoder_config`), its cross-attention fresh, unless the folder
    is a decoder that already has one (a `BertLMHeadModel` with `add_cross_attention=True`): then all
    of it loads, as transformers' `from_encoder_decoder_pretrained` does.

    decoder_layers: the source layers the decoder keeps (a smaller decoder). target_keep_ids: the
    rows of the target vocabulary kept (a trimmed output vocabulary; the target tokenizer must be
    trimmed the same way, see `minidistil.training.translate.trim_vocabulary`); the start, end and pad ids are
    then positions in that list. Both ids and keys are checked: a weight that lands nowhere is an error.
    """
    torch.manual_seed(seed)
    if encoder_folder is not None:
        encoder = DistilBertModel.from_pretrained(encoder_folder)
        enc_config = encoder.config
    elif encoder_config is not None:
        enc_config, encoder = encoder_config, None
    else:
        raise ValueError("give encoder_folder (warm) or encoder_config (random init)")
    dec_state = None
    trained = None if decoder_folder is None else read_bert_decoder(
        decoder_folder, decoder_layers, None if decoder_config is None else decoder_config.impl)
    if trained is not None:
        dec_config, dec_state = trained
    elif decoder_folder is not None:
        src_config, src_state = read_as_distilbert(decoder_folder)
        n = len(decoder_layers) if decoder_layers is not None else src_config.n_layers
        if decoder_layers is not None and not all(0 <= i < src_config.n_layers for i in decoder_layers):
            raise ValueError(f"decoder_layers {decoder_layers} must be layers of the {src_config.n_layers}-layer "
                             f"model in {decoder_folder}")
        dec_config = decoder_config_from(src_config, num_hidden_layers=n,
                                         **({} if decoder_config is None else {"impl": decoder_config.impl}))
        dec_state = decoder_state_from(src_state, decoder_layers)
        # DistilBERT has no token types (type 0 is inside its positions), so the type rows start at zero.
        dec_state["bert.embeddings.token_type_embeddings.weight"] = torch.zeros(
            dec_config.type_vocab_size, dec_config.hidden_size)
    elif decoder_config is not None:
        dec_config = decoder_config
    else:
        raise ValueError("give decoder_folder (warm) or decoder_config (random init)")
    if target_keep_ids is not None:
        dec_config = DecoderConfig(**{**dec_config.__dict__, "vocab_size": len(target_keep_ids),
                                      "pad_token_id": target_keep_ids.index(dec_config.pad_token_id)
                                      if dec_config.pad_token_id in target_keep_ids else 0})
    config = EncoderDecoderConfig(encoder=enc_config, decoder=dec_config, decoder_start_token_id=start_id,
                                  eos_token_id=eos_id, pad_token_id=pad_id)
    model = DistilBertEncoderDecoder(config)
    if encoder is not None:
        model.encoder.load_state_dict(encoder.state_dict())
    if dec_state is not None:
        if target_keep_ids is not None:
            rows = torch.tensor(target_keep_ids)
            for key in ("bert.embeddings.word_embeddings.weight", "cls.predictions.bias"):
                if key in dec_state:
                    dec_state[key] = dec_state[key][rows]
        missing, unexpected = model.decoder.load_state_dict(dec_state, strict=False)
        fresh = [k for k in missing if ".crossattention." not in k and not k.startswith("cls.")]
        if unexpected or fresh:
            raise checkpoint.CheckpointError(f"{decoder_folder} does not fit the decoder: missing "
                                             f"{fresh}, unexpected {unexpected}")
        model.decoder.tie_weights()
    return model.train()
