"""The teacher's side of distillation, computed once per chunk and stored beside the corpus.

The teacher is frozen, so what it says about a chunk depends only on the chunk and its mask. With
static masks (one fixed corruption per chunk, as BERT's original data pipeline wrote its masked
examples to disk once), the teacher's outputs can be computed once and read back in every epoch,
every loss variant and every seed, instead of a teacher forward and a (N, V) projection per step.
What is stored, per real token of the corpus (the rows of `tokens.bin`, in its order):

    masked_ids.npy   (n_tokens,)     the corrupted input ids (static masks, seeded per chunk)
    labels.npy       (n_tokens,)     the ids to predict, IGNORE_INDEX where none
    topk_ids.npy     (n_tokens, k)   the teacher's k most likely tokens at each position
    topk_logits.npy  (n_tokens, k)   their raw logits (float16 by default)
    hidden.npy       (n_tokens, C)   the teacher's last hidden state, for the cosine loss
    done.npy         (n_chunks,)     which chunks are computed: an interrupted run resumes

The KL term then reads the top-k logits only: `distillation_kl` of the student's and the teacher's
logits at those k tokens is the KL between the two distributions renormalised over the teacher's
top-k set S. With a = p_teacher(S) and b = p_student(S), the full KL splits exactly as

    KL(p_t || p_s) = KL(a || b) + a * KL(p_t|S || p_s|S) + (1 - a) * KL(p_t|not S || p_s|not S)

and the stored path keeps the middle term with a = 1: it is the full KL when S holds all of the
teacher's mass, and leaves out the push of the student's mass into S (the MLM term still does some
of it at the masked positions). With k = V it is the full KL. The student's logits are needed only at
the tokens some position's S holds, so its vocabulary projection shrinks from V columns to those.
A task whose KL reads the masked positions only (`restrict_ce_to_mask`) needs the top-k there only:
`masked_only=True` projects those 15% onto the vocabulary (the other rows stay 0), which takes the
teacher's projection, half the cost of computing the store, nearly out of it.

    outputs = compute_teacher_outputs(teacher, train_data, masking)     # once; reused afterwards
    task = DistillationTask(student, teacher, masking, loss, teacher_outputs=outputs)
    train(task, IndexedChunks(train_data), config, collate_fn=...)     # batches carry their chunk ids

Shapes: B batch, T tokens, C width, V vocabulary, N real tokens of a batch, k stored tokens, U tokens
any position of the batch stores.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from minidistil.data.batching import collate
from minidistil.nn.losses import IGNORE_INDEX, distillation_kl, hidden_cosine_loss, mlm_loss
from minidistil.data.masking import Masking
from minidistil.nn.model import activate

TOP_K = 64          # teacher logits kept per position
FORMAT = "minidistil-teacher-outputs-1"
DTYPES = ("float16", "float32")  # of the stored logits and hidden states (numpy has no bfloat16)


# ---------------------------------------------------------------- the student's side

def mlm_features(model: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    """The MLM head up to the vocabulary projection: (N, C) -> (N, C), as `mlm_logits` computes it."""
    return model.vocab_layer_norm(activate(model.vocab_transform(hidden), model.config))


def logits_at(model: nn.Module, features: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """The model's logits at k token ids per position: (N, C) features, (N, k) ids -> (N, k).

    Projects onto the U distinct ids of the whole batch (a few thousand, not V), then picks each
    position's k: one dense matmul, where a per-position gather of (N, k, C) weights would not be."""
    vocab, where = torch.unique(ids, return_inverse=True)  # (U,), (N, k) indices into vocab
    projector = model.vocab_projector
    logits = nn.functional.linear(features, projector.weight[vocab], projector.bias[vocab])  # (N, C) @ (C, U) -> (N, U)
    return logits.gather(1, where)  # (N, U) -> (N, k)


# ---------------------------------------------------------------- stored outputs

class TeacherOutputs:
    """The stored teacher side of a corpus folder (see the module docstring), memory-mapped."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if not (self.folder / "meta.json").is_file():
            raise ValueError(f"{self.folder} holds no teacher outputs (no meta.json); compute them with "
                             f"compute_teacher_outputs")
        self.meta = json.loads((self.folder / "meta.json").read_text())
        if self.meta.get("format") != FORMAT:
            raise ValueError(f"{self.folder} holds teacher outputs of format {self.meta.get('format')!r}, "
                             f"expected {FORMAT!r}; compute them again")
        self.k, self.vocab_size = self.meta["k"], self.meta["vocab_size"]
        self.masked_only = self.meta.get("masked_only", False)  # top-k stored at the masked positions only
        load = lambda name: np.load(self.folder / f"{name}.npy", mmap_mode="r")
        self.starts, self.lengths, self.done = load("starts"), load("lengths"), load("done")
        self.masked_ids, self.labels = load("masked_ids"), load("labels")
        self.topk_ids, self.topk_logits, self.hidden = load("topk_ids"), load("topk_logits"), load("hidden")

    def batch(self, chunk: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict:
        """The stored rows of a padded batch of chunks: the corrupted `input_ids` and `labels` (B, T),
        and for its N real tokens in row-major order `topk_ids`, `topk_logits` (N, k) and `hidden` (N, C)."""
        chunk = chunk.cpu().numpy()
        is_real = attention_mask.bool().cpu()
        if not self.done[chunk].all():
            raise ValueError(f"no teacher outputs for chunks {sorted(set(chunk[~self.done[chunk]].tolist()))[:5]} "
                             f"in {self.folder}; compute them for the corpus (or split) you train on")
        if not np.array_equal(self.lengths[chunk], is_real.sum(1).numpy()):
            raise ValueError(f"the batch's chunks are not the lengths {self.folder} stores for them: "
                             f"these teacher outputs belong to another corpus")
        B, T = input_ids.shape
        rows = (torch.from_numpy(self.starts[chunk].astype(np.int64))[:, None] + torch.arange(T))[is_real].numpy()
        labels_real = torch.from_numpy(self.labels[rows].astype(np.int64))
        ids_real = torch.from_numpy(self.masked_ids[rows].astype(np.int64))
        kept = labels_real == IGNORE_INDEX  # untouched positions must be the batch's own tokens
        if not torch.equal(ids_real[kept], input_ids.cpu()[is_real][kept]):
            raise ValueError(f"the batch's tokens differ from those {self.folder} was computed on: "
                             f"these teacher outputs belong to another corpus")
        device = input_ids.device
        corrupted, labels = input_ids.clone(), torch.full_like(input_ids, IGNORE_INDEX)
        corrupted[is_real.to(device)] = ids_real.to(device)
        labels[is_real.to(device)] = labels_real.to(device)
        as_tensor = lambda a, dtype: torch.from_numpy(np.ascontiguousarray(a[rows])).to(device, dtype)
        return {"input_ids": corrupted, "labels": labels, "topk_ids": as_tensor(self.topk_ids, torch.long),
                "topk_logits": as_tensor(self.topk_logits, torch.float32),
                "hidden": as_tensor(self.hidden, torch.float32)}

    def check(self, task: nn.Module) -> None:
        """Refuse a task these outputs cannot serve (called by DistillationTask)."""
        if task.alpha["mse"]:
            raise ValueError("the logits MSE needs every teacher logit, and stored teacher outputs hold the top "
                             f"{self.k}; set alpha_mse to 0 or distil without stored outputs")
        if self.masked_only and not task.restrict_ce_to_mask:
            raise ValueError(f"the teacher outputs in {self.folder} hold the top-k at the masked positions only; "
                             f"a KL on every real token needs them computed with masked_only=False")
        if task.student.config.vocab_size != self.vocab_size:
            raise ValueError(f"the teacher outputs in {self.folder} are over {self.vocab_size} tokens, the student "
                             f"has {task.student.config.vocab_size}")

    def distill_forward(self, task: nn.Module, batch: dict) -> dict:
        """`DistillationTask.forward` with the teacher's side read from here: the same triple loss,
        the KL over the stored top-k tokens (see the module docstring)."""
        attention_mask, student = batch["attention_mask"], task.student
        stored = self.batch(batch["chunk"], batch["input_ids"], attention_mask)
        s_hidden = student.distilbert(stored["input_ids"], attention_mask=attention_mask).last_hidden_state
        is_real = attention_mask.bool()
        labels = stored["labels"][is_real]                      # (N,)
        select = labels != IGNORE_INDEX if task.restrict_ce_to_mask else torch.ones_like(labels, dtype=torch.bool)
        s_real = s_hidden[is_real]                              # (B, T, C) -> (N, C)
        features = mlm_features(student, s_real[select])        # (N, C) -> (S, C), S selected positions
        is_target = labels[select] != IGNORE_INDEX              # the masked positions are among the selected
        terms = {
            "ce": distillation_kl(logits_at(student, features, stored["topk_ids"][select]),
                                  stored["topk_logits"][select], task.temperature),
            "mlm": mlm_loss(student.vocab_projector(features[is_target]), labels[select][is_target]),
            "cos": hidden_cosine_loss(s_real, stored["hidden"]) if task.alpha["cos"] else None,
        }
        loss = sum(task.alpha[k] * v for k, v in terms.items() if v is not None)
        return {"loss": loss, **{k: v.detach() for k, v in terms.items() if v is not None}}


class IndexedChunks:
    """A corpus whose examples also carry `chunk`, their index in the corpus folder, by which the
    stored path finds their rows; `collate` stacks it into a (B,) tensor. Train on this instead of
    the corpus when the task has teacher outputs."""

    def __init__(self, corpus):
        self.corpus = corpus

    @property
    def lengths(self) -> np.ndarray:
        return self.corpus.lengths

    def __len__(self) -> int:
        return len(self.corpus)

    def __getitem__(self, i: int) -> dict:
        return {**self.corpus[i], "chunk": int(self.corpus.indices[i])}


def static_masks(masking: Masking, ids: np.ndarray, chunk: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The one corruption of chunk `chunk`: `(input_ids, labels)` (T,), the same in every run with `seed`."""
    generator = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, chunk]).generate_state(1)[0]))
    ids = torch.from_numpy(ids.astype(np.int64))[None]
    inputs, labels = masking(ids, torch.ones_like(ids), generator=generator)
    return inputs[0], labels[0]


def outputs_key(teacher: nn.Module, corpus, masking: Masking, k: int, seed: int, dtype: str,
                masked_only: bool = False) -> str:
    """Twelve hex digits naming what the outputs depend on: the teacher's weights, the corpus, the
    masking, k, the mask seed, the stored dtype and where the top-k is stored (not the loss weights,
    the student or the training seed)."""
    h = hashlib.sha256()
    for name, tensor in teacher.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    settings = {"corpus": [corpus.meta["n_tokens"], corpus.meta["n_chunks"]], "k": k, "seed": seed, "dtype": dtype,
                "masking": [masking.mask_token_id, masking.vocab_size, list(masking.special_ids),
                            masking.mlm_probability], "format": FORMAT, **({"masked_only": True} if masked_only else {})}
    h.update(json.dumps(settings, sort_keys=True).encode())
    if masking.token_probs is not None:
        h.update(masking.token_probs.float().numpy().tobytes())
    return h.hexdigest()[:12]


@torch.no_grad()
def compute_teacher_outputs(teacher: nn.Module, corpus, masking: Masking, *, k: int = TOP_K, seed: int = 0,
                            dtype: str = "float16", batch_size: int = 16, folder: str | Path | None = None,
                            progress: bool = False, masked_only: bool = False) -> TeacherOutputs:
    """The teacher's outputs for every chunk of `corpus` (a `TokenCorpus` or a split of one), stored in
    `folder` (default: `<corpus folder>/teacher-outputs/<key>`, see `outputs_key`). Chunks already
    stored there are not computed again, so a second call (or one after an interruption) only reads."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    V = teacher.config.vocab_size
    if not 1 <= k <= V:
        raise ValueError(f"k must be between 1 and the vocabulary size {V}, got {k}")
    if corpus.vocab_size != V:
        raise ValueError(f"the corpus has a {corpus.vocab_size}-token vocabulary, the teacher {V}")
    folder = Path(folder) if folder is not None else \
        Path(corpus.folder) / "teacher-outputs" / outputs_key(teacher, corpus, masking, k, seed, dtype, masked_only)
    n_tokens, n_chunks, C = int(corpus.meta["n_tokens"]), len(corpus.all_lengths), teacher.config.dim
    id_dtype = np.uint16 if V <= 2 ** 16 else np.int32
    shapes = {"masked_ids": ((n_tokens,), id_dtype), "labels": ((n_tokens,), np.int32),
              "topk_ids": ((n_tokens, k), id_dtype), "topk_logits": ((n_tokens, k), dtype),
              "hidden": ((n_tokens, C), dtype), "done": ((n_chunks,), np.bool_)}
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / f"{name}.npy" for name in shapes}
    resume = all(path.exists() and np.load(path, mmap_mode="r").shape == shapes[name][0]
                 for name, path in paths.items())
    arrays = {name: np.lib.format.open_memmap(paths[name], mode="r+" if resume else "w+", dtype=kind, shape=shape)
              for name, (shape, kind) in shapes.items()}  # "w+" starts with every chunk not done
    for name, values in (("starts", corpus.starts), ("lengths", corpus.all_lengths)):
        np.save(folder / f"{name}.npy", np.asarray(values, dtype=np.int64))

    teacher = teacher.eval()
    device = next(teacher.parameters()).device
    todo = [int(j) for j in corpus.indices if not arrays["done"][j]]
    todo.sort(key=lambda j: -int(corpus.all_lengths[j]))  # similar lengths together: little padding
    for first in tqdm(range(0, len(todo), batch_size), desc="teacher outputs", unit="batch", disable=not progress):
        chunks = todo[first:first + batch_size]
        masked = [static_masks(masking, _chunk_ids(corpus, j), j, seed) for j in chunks]
        batch = collate([{"input_ids": ids.numpy(), "labels": labels.numpy()} for ids, labels in masked],
                        pad_token_id=corpus.special_ids["pad"])
        is_real = batch["attention_mask"].bool()
        hidden = teacher.distilbert(batch["input_ids"].to(device),
                                    attention_mask=batch["attention_mask"].to(device)).last_hidden_state
        hidden = hidden[is_real.to(device)]                                    # (B, T, C) -> (N, C)
        projected = (batch["labels"][is_real] != IGNORE_INDEX).to(device) if masked_only else \
            torch.ones(len(hidden), dtype=torch.bool, device=device)          # (N,): the rows that get a top-k
        top_values, top_ids = [], []
        for part in hidden[projected].split(1024):  # (1024, V) logits at a time: 125 MB, not (N, V)
            values, ids = teacher.mlm_logits(part).topk(k, dim=-1)
            top_values.append(values)
            top_ids.append(ids)
        topk_ids = torch.zeros(len(hidden), k, dtype=torch.long, device=device)  # 0 where not projected
        topk_logits = torch.zeros(len(hidden), k, device=device)
        if top_ids:
            topk_ids[projected], topk_logits[projected] = torch.cat(top_ids), torch.cat(top_values).float()
        rows = (torch.from_numpy(corpus.starts[chunks].astype(np.int64))[:, None]
                + torch.arange(is_real.shape[1]))[is_real].numpy()
        arrays["masked_ids"][rows] = batch["input_ids"][is_real].numpy()
        arrays["labels"][rows] = batch["labels"][is_real].numpy()
        arrays["topk_ids"][rows] = topk_ids.cpu().numpy()
        arrays["topk_logits"][rows] = topk_logits.cpu().numpy()
        arrays["hidden"][rows] = hidden.float().cpu().numpy()
        for name in shapes:
            if name != "done":
                arrays[name].flush()
        arrays["done"][chunks] = True  # only after the rows are on disk: a crash recomputes this batch
        arrays["done"].flush()
    meta = {"format": FORMAT, "k": k, "seed": seed, "dtype": dtype, "masked_only": masked_only, "vocab_size": V, "dim": C,
            "n_tokens": n_tokens, "n_chunks": n_chunks, "corpus": str(corpus.folder)}
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return TeacherOutputs(folder)


def _chunk_ids(corpus, j: int) -> np.ndarray:
    start = corpus.starts[j]
    return np.asarray(corpus.tokens[start:start + corpus.all_lengths[j]])
