"""Chinese -> English translation, the training floor: pairs to examples, the training tasks, a
variant's untrained model, the distilled student, sequence-level KD targets, batched translation and
its evaluation. The settings and the build of the default translators are in
`minidistil.recipes.translator`; the pipeline in `minidistil.apps.translation`.

Training is the shared loop (`minidistil.training.train.train`: checkpoints, exact resume, seeded
batches) on a task whose forward is teacher forcing: the encoder reads the Chinese, the decoder reads
the English shifted right once and predicts each next token, label-smoothed cross-entropy.

The student learns from the `warm` translator by word-level KD (KL between the teacher's and the
student's next-token distributions on every target position, times T^2, as the triple loss) and
sequence-level KD (Kim and Rush 2016: the teacher's beam-search translations of the training
sources replace the references as targets).
"""
from __future__ import annotations

import json
import re
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from minidistil.nn.losses import IGNORE_INDEX, distillation_kl
from minidistil.nn.seq2seq import (DistilBertEncoderDecoder, decoder_config_from, label_smoothed_cross_entropy,
                      read_as_distilbert, target_labels, warm_start)
from minidistil.data import english
from minidistil.data.batching import collate_pairs, sorted_batches, training_batches
from minidistil.data.english import Truecaser
from minidistil.data.sentences import chinese_sentences
from minidistil.nn.generate import generate, generation_settings
from minidistil.nn.generation_outputs import compute_transition_scores
from minidistil.nn.limits import check_generation
from minidistil.tokenizer import WordPieceTokenizer
from minidistil.training.train import TrainConfig

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def layers(text: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(i) for i in text.split(",")) if text.strip() else None
    except ValueError:
        raise ValueError(f"decoder_layers is a comma-separated list of layer numbers like '0,2,5', got {text!r}") from None


# ------------------------------------------------------------------ text -> examples

def trim_vocabulary(tokenizer: WordPieceTokenizer, texts) -> tuple[WordPieceTokenizer, list[int]]:
    """A tokenizer holding only the special tokens and the tokens `texts` use, and the kept ids (in
    the old order, so [PAD] stays 0). Texts tokenize to the same tokens with it: each piece greedy
    longest-match chose was in the vocabulary, and no longer one was."""
    used = {tokenizer.vocab[t] for text in texts for t in tokenizer.tokenize(text)}
    used |= {tokenizer.vocab[t] for t in SPECIALS if t in tokenizer.vocab}
    keep = sorted(used)
    trimmed = WordPieceTokenizer(vocab=[tokenizer.ids_to_tokens[i] for i in keep],
                                 do_lower_case=tokenizer.do_lower_case, strip_accents=tokenizer.strip_accents,
                                 tokenize_chinese_chars=tokenizer.tokenize_chinese_chars)
    return trimmed, keep


class PairExamples:
    """Tokenized pairs for the training loop: `examples[i]` -> {"input_ids", "labels"}, `lengths` for
    length-grouped batches (the longer side: it decides the padded cost)."""

    def __init__(self, sources: list[np.ndarray], labels: list[np.ndarray]):
        self.sources, self.labels = sources, labels
        self.lengths = np.array([max(len(s), len(t)) for s, t in zip(sources, labels)], dtype=np.int64)

    def __len__(self):
        return len(self.sources)

    def __getitem__(self, i):
        return {"input_ids": self.sources[i], "labels": self.labels[i]}


def encode_sources(tokenizer, texts, max_length: int) -> list[np.ndarray]:
    rows = tokenizer(list(texts), truncation=True, max_length=max_length, return_token_type_ids=False)["input_ids"]
    return [np.asarray(r, dtype=np.int64) for r in rows]


def encode_targets(tokenizer, texts, max_length: int) -> list[np.ndarray]:
    """English -> labels [y1 .. yn, [SEP]] (the start token dropped: the model puts it in front)."""
    rows = tokenizer(list(texts), truncation=True, max_length=max_length + 1, return_token_type_ids=False)["input_ids"]
    return [np.asarray(r, dtype=np.int64) for r in target_labels(rows, tokenizer.cls_token_id, tokenizer.sep_token_id)]


# ------------------------------------------------------------------ the tasks

class TranslationTask(nn.Module):
    """Teacher forcing: {"loss": label-smoothed CE, "nll": plain CE} on the real target tokens."""

    def __init__(self, model: DistilBertEncoderDecoder, label_smoothing: float = 0.1):
        super().__init__()
        self.model, self.label_smoothing = model, label_smoothing

    def forward(self, batch: dict) -> dict:
        out = self.model(batch["input_ids"], batch["attention_mask"], labels=batch["labels"],
                         label_smoothing=self.label_smoothing)
        with torch.no_grad():
            nll = label_smoothed_cross_entropy(out.logits, batch["labels"]) if self.label_smoothing else out.loss
        return {"loss": out.loss, "nll": nll.detach()}


class DistilledTranslationTask(nn.Module):
    """Word-level KD: (1 - alpha) CE(student, targets) + alpha KL(teacher/T || student/T) T^2 over
    the real target positions, the teacher reading the same source and target prefix. The teacher
    is kept out of the module tree, as in `minidistil.training.distill`: not trained, not checkpointed,
    always in eval mode."""

    def __init__(self, student, teacher, alpha: float = 0.5, temperature: float = 1.0, label_smoothing: float = 0.1):
        super().__init__()
        if student.config.decoder.vocab_size != teacher.config.decoder.vocab_size:
            raise ValueError("student and teacher must share the target vocabulary")
        self.model, self.alpha, self.temperature, self.label_smoothing = student, alpha, temperature, label_smoothing
        object.__setattr__(self, "teacher", teacher.eval().requires_grad_(False))

    def forward(self, batch: dict) -> dict:
        ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
        out = self.model(ids, mask, labels=labels, label_smoothing=self.label_smoothing)
        real = labels != IGNORE_INDEX
        kd = torch.zeros((), device=ids.device)
        if self.alpha > 0:
            with torch.no_grad():
                t_logits = self.teacher(ids, mask, labels=labels).logits
            kd = distillation_kl(out.logits[real], t_logits[real], self.temperature)
        loss = (1 - self.alpha) * out.loss + self.alpha * kd
        return {"loss": loss, "ce": out.loss.detach(), "kd": kd.detach()}


# ------------------------------------------------------------------ translating

def detokenize(text: str, source: str = "", truecase: Truecaser | None = None) -> str:
    """The uncased decoder's text as a reader writes it: the tokenizer's spaces undone
    (`minidistil.data.english.detokenize`), each word in its usual form (`truecase`, learnt from the
    training targets; by default only "i" -> "I"), a Latin word of the Chinese source in the source's
    form ("basic" -> "BASIC", "calc" -> "Calc"), and sentence starts capitalised.

    >>> detokenize("cannot close basic while % s runs.", "%s 运行时无法关闭 BASIC。")
    'Cannot close BASIC while %s runs.'
    """
    return (truecase or Truecaser({"i": "I"}))(english.detokenize(text), source)


UNKNOWN_SHARE = 0.5  # a text whose source pieces are more than this share [UNK] is warned about


def warn_unknown(tokenizer, rows: list[list[int]]) -> None:
    """One warning for the texts whose word pieces are mostly [UNK] (emoji, a script the encoder's
    vocabulary lacks): the translation of such a text is made up from almost nothing."""
    special = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id}
    n = 0
    for row in rows:
        pieces = [i for i in row if i not in special]
        n += bool(pieces) and sum(i == tokenizer.unk_token_id for i in pieces) > UNKNOWN_SHARE * len(pieces)
    if n:
        warnings.warn(f"{n} text(s) are mostly {tokenizer.unk_token} (more than {UNKNOWN_SHARE:.0%} of their pieces "
                      f"are not in the translator's vocabulary, as with emoji or another script); their "
                      f"translations say little", UserWarning, stacklevel=3)


def source_rows(source_tokenizer, texts: list[str], limit: int) -> list[list[int]]:
    """Token rows of the texts; rows longer than `limit` are cut, with one warning."""
    with warnings.catch_warnings():  # the tokenizer's own "longer than the model" warning: ours below says it once
        warnings.filterwarnings("ignore", message="Token indices sequence length is longer")
        rows = source_tokenizer(list(texts), truncation=False, return_token_type_ids=False)["input_ids"]
    warn_unknown(source_tokenizer, rows)
    if any(len(r) > limit for r in rows):
        n = sum(len(r) > limit for r in rows)
        warnings.warn(f"{n} sentence(s) longer than {limit} tokens, with no 。！？；，to cut them at, were cut to "
                      f"{limit} tokens")
        rows = [r[:limit - 1] + [r[-1]] if len(r) > limit else r for r in rows]
    return rows


def decode_rows(model, rows: list[list[int]], target_tokenizer, config, batch_size: int) -> list[tuple[str, float, int]]:
    """(decoded text, summed token log-probability, tokens) of each source row, in length-sorted batches."""
    device, pad = next(model.parameters()).device, target_tokenizer.pad_token_id
    eos = set(config.eos_ids())
    config = config.update(return_dict_in_generate=True, output_scores=True)
    out: list = [None] * len(rows)
    for chunk in sorted_batches([len(r) for r in rows], batch_size):
        batch = collate_pairs([{"input_ids": rows[i], "labels": [0]} for i in chunk], pad)
        result = generate(model, batch["input_ids"].to(device), batch["attention_mask"].to(device),
                          generation_config=config)
        # the log-probability of each written token, as transformers' compute_transition_scores gives it
        steps = compute_transition_scores(result.sequences, result.scores, result.beam_indices,
                                          normalize_logits=config.num_beams == 1)
        for i, seq, logp in zip(chunk, result.sequences.tolist(), steps.tolist()):
            written = seq[1:]
            n = next((k + 1 for k, t in enumerate(written) if t in eos), len(written))
            out[i] = (target_tokenizer.decode(written[:n], skip_special_tokens=True), sum(logp[:n]), n)
    return out


@torch.no_grad()
def translate_texts(model, source_tokenizer, target_tokenizer, texts: list[str], *, batch_size: int = 16,
                    max_source_length: int | None = None, truecase: Truecaser | None = None,
                    with_scores: bool = False, **settings) -> list:
    """Chinese texts -> English strings (with `with_scores`: (string, mean token log-probability) pairs).

    Each text is cut into sentences (`chinese_sentences`: after 。！？；, a long one again after a
    comma) that are translated one by one and joined, so a long text is translated whole, never cut at
    the encoder's length. Empty or blank texts give "". `settings`: generate's (num_beams, max_length,
    no_repeat_ngram_size, ...); what is not given comes from the model's generation config (the folder's
    generation_config.json)."""
    config = generation_settings(model, None, {k: v for k, v in settings.items() if v is not None})
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    limit = min(max_source_length or 10**9, model.config.encoder.max_position_embeddings)
    pieces, owner = [], []
    for i, text in enumerate(texts):
        for piece in chinese_sentences(text, most=max(limit - 2, 1)):  # a character is about one token
            pieces.append(piece)
            owner.append(i)
    rows = source_rows(source_tokenizer, pieces, limit)
    check_generation(model, config.num_beams, config.max_length, texts=min(batch_size, len(rows)),
                     source_length=max(map(len, rows), default=0), device=str(next(model.parameters()).device))
    decoded = decode_rows(model, rows, target_tokenizer, config, batch_size)
    english, logp, tokens = [[] for _ in texts], [0.0] * len(texts), [0] * len(texts)
    for i, piece, (text, score, n) in zip(owner, pieces, decoded):
        english[i].append(detokenize(text, piece, truecase))
        logp[i], tokens[i] = logp[i] + score, tokens[i] + n
    out = [" ".join(parts) for parts in english]
    if not with_scores:
        return out
    return [(text, logp[i] / tokens[i] if tokens[i] else 0.0) for i, text in enumerate(out)]


def translator_generation_config(model, settings: dict):
    """The generation settings a translator decodes with: the beam size and length limit of its training
    settings (translator.json's num_beams and max_target_length + 1, the end token included), and no
    3-gram written twice (a small translator otherwise loops: "use the following commands to use the
    following commands")."""
    return model.generation_config.update(num_beams=settings.get("num_beams", 4),
                                          max_length=settings.get("max_target_length", 64) + 1,
                                          no_repeat_ngram_size=3)


# ------------------------------------------------------------------ building a variant

def build_model(settings, target_tokenizer, keep_ids, *, encoder_folder=None,
                decoder_folder=None, teacher=None) -> DistilBertEncoderDecoder:
    """The untrained model of a variant (see the table in the module doc). Random parts take the
    shapes of the folders they would otherwise be read from."""
    if settings.variant == "student":
        return make_student(teacher, layers(settings.decoder_layers) or (0, 2, 5))
    keep_layers = layers(settings.decoder_layers)
    if settings.variant == "warm":
        encoder = dict(encoder_folder=encoder_folder)
    else:
        encoder = dict(encoder_config=read_as_distilbert(encoder_folder)[0])
    if settings.variant == "random":
        shape = decoder_config_from(read_as_distilbert(decoder_folder)[0])
        if keep_layers:
            shape = replace(shape, num_hidden_layers=len(keep_layers))
        decoder = dict(decoder_config=shape)
    else:
        decoder = dict(decoder_folder=decoder_folder, decoder_layers=keep_layers)
    return warm_start(**encoder, **decoder, target_keep_ids=keep_ids, start_id=target_tokenizer.cls_token_id,
                      eos_id=target_tokenizer.sep_token_id, pad_id=target_tokenizer.pad_token_id, seed=settings.seed)


def set_dropout(model: DistilBertEncoderDecoder, p: float) -> DistilBertEncoderDecoder:
    """Every dropout of the encoder-decoder at p: the hidden ones (nn.Dropout modules) and attention's,
    which each layer reads from its config when it runs; the configs record p for the saved folder."""
    encoder, decoder = model.config.encoder, model.config.decoder
    encoder.dropout = encoder.attention_dropout = p
    decoder.hidden_dropout_prob = decoder.attention_probs_dropout_prob = p
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = p
    return model


def make_student(teacher: DistilBertEncoderDecoder, decoder_layers: tuple[int, ...]) -> DistilBertEncoderDecoder:
    """The teacher's encoder, embeddings and head, and its decoder layers `decoder_layers` (cross-attention
    included), as DistilBERT's student takes one teacher layer out of two."""
    n = teacher.config.decoder.num_hidden_layers
    if not all(0 <= i < n for i in decoder_layers):
        raise ValueError(f"decoder_layers {decoder_layers} must be layers of the teacher's {n}-layer decoder")
    config = replace(teacher.config, decoder=replace(teacher.config.decoder, num_hidden_layers=len(decoder_layers)))
    student = DistilBertEncoderDecoder(config)
    state = {}
    for key, value in teacher.state_dict().items():
        m = re.match(r"decoder\.bert\.encoder\.layer\.(\d+)\.(.*)", key)
        if m is None:
            state[key] = value
        elif int(m.group(1)) in decoder_layers:
            state[f"decoder.bert.encoder.layer.{decoder_layers.index(int(m.group(1)))}.{m.group(2)}"] = value
    student.load_state_dict(state, strict=True)
    student.decoder.tie_weights()
    return student.train()


def sequence_kd_targets(teacher, source_rows: list[np.ndarray], target_tokenizer, *, num_beams: int,
                        max_length: int, cache: Path | None = None, batch_size: int = 32,
                        progress: bool = True) -> list[np.ndarray]:
    """Kim and Rush's sequence-level KD: the teacher's beam translation of every training source, as
    labels [y1 .. yn, [SEP]]. Sources are decoded longest first (batches of similar length pad
    little); each batch is appended to `cache` (JSON lines of [index, labels]) as it finishes, so an
    interrupted run resumes where it stopped."""
    from tqdm.auto import tqdm
    done: dict[int, list[int]] = {}
    if cache is not None and cache.is_file():
        done = dict(json.loads(line) for line in cache.read_text().splitlines() if line.strip())
    todo = [i for i in range(len(source_rows)) if i not in done]
    pad, eos = target_tokenizer.pad_token_id, target_tokenizer.sep_token_id
    device = next(teacher.parameters()).device
    bar = tqdm(total=len(source_rows), initial=len(done), unit="sent", desc="teacher beams", disable=not progress)
    with torch.no_grad():
        for batch_rows in sorted_batches([len(source_rows[i]) for i in todo], batch_size):
            chunk = [todo[j] for j in batch_rows]
            batch = collate_pairs([{"input_ids": source_rows[i], "labels": [0]} for i in chunk])
            seqs = generate(teacher, batch["input_ids"].to(device), batch["attention_mask"].to(device),
                            num_beams=num_beams, max_length=max_length)
            for i, seq in zip(chunk, seqs.tolist()):
                seq = seq[1:]
                seq = seq[:seq.index(eos) + 1] if eos in seq else [t for t in seq if t != pad] + [eos]
                done[i] = seq  # after the end token comes the filler (pad, or the end token again)
            if cache is not None:
                with open(cache, "a") as f:
                    f.writelines(json.dumps([i, done[i]]) + "\n" for i in chunk)
            bar.update(len(chunk))
    bar.close()
    return [np.asarray(done[i], dtype=np.int64) for i in range(len(source_rows))]


def seconds_per_step(task, data, settings, steps: int = 5) -> float:
    """Seconds per optimizer step, timed on the first `steps` batches the run will train on (after one
    warm-up step); the weights are put back, so timing does not train."""
    from minidistil.training.train import make_optimizer
    optimizer = make_optimizer(task, TrainConfig(lr=settings.lr))
    batches = training_batches(data.lengths, settings.batch_size, settings.max_tokens, settings.seed)
    device = next(task.parameters()).device
    state = {k: v.clone() for k, v in task.state_dict().items()}
    task.train()
    for s in range(steps + 1):
        if s == 1:
            start = time.perf_counter()
        batch = collate_pairs([data[int(i)] for i in batches.batch(s)])
        task({k: v.to(device) for k, v in batch.items()})["loss"].backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    elapsed = (time.perf_counter() - start) / steps
    task.load_state_dict(state)
    return elapsed


def evaluate(model, source_tok, target_tok, records: list[dict], settings, truecase: Truecaser | None = None) -> dict:
    """Decode the first `eval_sentences` held-out records with the model's generation config; BLEU/chrF
    (sacrebleu's, case-sensitive, on detokenized text) when sacrebleu is installed."""
    records = records[:settings.eval_sentences] if settings.eval_sentences else records
    if not records:
        return {}
    start = time.perf_counter()
    hyps = translate_texts(model, source_tok, target_tok, [r["zh"] for r in records],
                           max_source_length=settings.max_source_length, truecase=truecase)
    seconds = time.perf_counter() - start
    result = {"eval_sentences": len(records), "sentences_per_second": round(len(records) / seconds, 2),
              "examples": [{"zh": r["zh"], "en": r["en"], "model": h} for r, h in list(zip(records, hyps))[:5]]}
    try:
        from minidistil.utils.bleu import corpus_scores
        scores = corpus_scores(hyps, [r["en"] for r in records])
        result.update(bleu=round(float(scores.bleu), 2), bleu_ci=round(float(scores.bleu_ci), 2),
                      chrf=round(float(scores.chrf), 2), chrf_ci=round(float(scores.chrf_ci), 2), bleu_signature=scores.bleu_signature,
                      chrf_signature=scores.chrf_signature)
    except ImportError as e:
        result["scores"] = str(e)
    return result
