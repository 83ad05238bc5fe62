"""Stored teacher outputs: the same triple loss and gradients as running the teacher each step."""
from functools import partial

import numpy as np
import pytest
import torch

from minidistil import DistilBertConfig, DistilBertForMaskedLM
from minidistil.data.batching import collate
from minidistil.data import PrepareOptions, TokenCorpus, prepare_corpus
from minidistil.training.distill import DistillationTask, DistillLoss, make_student
from minidistil.nn.losses import distillation_kl
from minidistil.data.masking import Masking
from minidistil.training.teacher_outputs import (IndexedChunks, TeacherOutputs, compute_teacher_outputs, logits_at,
                                        mlm_features)
from minidistil.training.train import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_thread")

WORDS = [f"w{i}" for i in range(56)]
V = 5 + len(WORDS)  # 61: [PAD] [UNK] [CLS] [SEP] [MASK], then one id per word


class WordTokenizer:
    """One id per word of an inline vocabulary."""
    pad_token_id, unk_token_id, cls_token_id, sep_token_id, mask_token_id = 0, 1, 2, 3, 4

    def __len__(self):
        return V

    def __call__(self, texts, add_special_tokens=True, verbose=True):
        return {"input_ids": [[5 + int(w[1:]) for w in t.split()] for t in texts]}


@pytest.fixture
def corpus(tmp_path):
    rng = np.random.default_rng(0)
    docs = [" ".join(rng.choice(WORDS, rng.integers(8, 40))) for _ in range(12)]
    prepare_corpus(docs, WordTokenizer(), tmp_path / "corpus", PrepareOptions(max_length=13, min_tokens=5))
    return TokenCorpus(tmp_path / "corpus")


def models(std=0.5):
    torch.manual_seed(0)
    teacher = DistilBertForMaskedLM(DistilBertConfig(vocab_size=V, dim=24, n_heads=2, hidden_dim=37, n_layers=6,
                                                     max_position_embeddings=16, dropout=0.0, attention_dropout=0.0))
    for p in teacher.parameters():  # large weights: peaked distributions, errors that show
        torch.nn.init.normal_(p, std=std)
    return make_student(teacher), teacher.eval()


def masking(corpus):
    return Masking.for_corpus(corpus)


def first_batch(corpus, n=5):
    return collate([IndexedChunks(corpus)[i] for i in range(n)], pad_token_id=0)


def test_topk_kl_with_k_equal_to_the_vocabulary_is_the_full_kl():
    torch.manual_seed(0)
    student, teacher = torch.randn(13, V) * 3, torch.randn(13, V) * 3
    values, ids = teacher.topk(V)
    full = distillation_kl(student, teacher, 2.0)
    assert distillation_kl(student.gather(1, ids), values, 2.0).item() == pytest.approx(full.item(), rel=1e-5)
    values, ids = teacher.topk(7)  # fewer tokens: the KL of the renormalised distributions, not the full one
    assert distillation_kl(student.gather(1, ids), values, 2.0).item() != pytest.approx(full.item(), rel=1e-2)


def test_logits_at_some_ids_are_those_of_the_full_head():
    student, _ = models()
    hidden = torch.randn(9, 24)
    ids = torch.randint(V, (9, 4))
    full = student.mlm_logits(hidden).gather(1, ids)
    torch.testing.assert_close(logits_at(student, mlm_features(student, hidden), ids), full)


@pytest.mark.parametrize("restrict_ce_to_mask", [False, True])
def test_stored_outputs_give_the_same_loss_and_gradients_as_running_the_teacher(corpus, restrict_ce_to_mask):
    student, teacher = models()
    outputs = compute_teacher_outputs(teacher, corpus, masking(corpus), k=V, dtype="float32")
    batch = first_batch(corpus)
    stored = outputs.batch(batch["chunk"], batch["input_ids"], batch["attention_mask"])
    assert (stored["labels"] != -100).any()
    loss = DistillLoss(restrict_ce_to_mask=restrict_ce_to_mask)
    # The live task masks with the same static masks, so both see the same corrupted batch.
    same_masks = lambda ids, mask: (stored["input_ids"], stored["labels"])
    live = DistillationTask(student, teacher, same_masks, loss)
    reused = DistillationTask(student, teacher, masking(corpus), loss, teacher_outputs=outputs)
    results, grads = [], []
    for task in (live, reused):
        student.zero_grad()
        out = task(batch)
        out["loss"].backward()
        results.append(out)
        grads.append({n: p.grad.clone() for n, p in student.named_parameters()})
    for term in ("loss", "ce", "mlm", "cos"):
        assert results[1][term].item() == pytest.approx(results[0][term].item(), rel=1e-5, abs=1e-6), term
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-6, msg=name)


def test_float16_storage_changes_the_loss_by_little(corpus):
    student, teacher = models(std=0.2)
    batch = first_batch(corpus)
    losses = [DistillationTask(student, teacher, masking(corpus), teacher_outputs=compute_teacher_outputs(
        teacher, corpus, masking(corpus), k=V, dtype=dtype))(batch)["loss"].item() for dtype in ("float32", "float16")]
    assert losses[1] == pytest.approx(losses[0], rel=1e-3)


def test_outputs_are_computed_once_then_read_and_resume_where_they_stopped(corpus):
    _, teacher = models()
    calls = []
    teacher.distilbert.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    first = compute_teacher_outputs(teacher, corpus, masking(corpus), k=5, batch_size=4)
    assert sum(calls) == len(corpus)
    again = compute_teacher_outputs(teacher, corpus, masking(corpus), k=5, batch_size=4)
    assert again.folder == first.folder and sum(calls) == len(corpus)  # read, not computed
    done = np.load(first.folder / "done.npy", mmap_mode="r+")
    done[[1, 3]] = False  # as if interrupted before these two chunks
    done.flush()
    masked_before = np.array(first.masked_ids)
    compute_teacher_outputs(teacher, corpus, masking(corpus), k=5, batch_size=4)
    assert sum(calls) == len(corpus) + 2
    assert np.array_equal(TeacherOutputs(first.folder).masked_ids, masked_before)  # the masks are static
    other = compute_teacher_outputs(teacher, corpus, masking(corpus), k=5, seed=1, batch_size=4)
    assert other.folder != first.folder  # another mask seed is another store


def test_training_on_stored_outputs_runs_in_the_shared_loop(corpus, tmp_path):
    student, teacher = models(std=0.02)
    outputs = compute_teacher_outputs(teacher, corpus, masking(corpus), k=8)
    task = DistillationTask(student, teacher, masking(corpus), teacher_outputs=outputs)
    start = {k: v.clone() for k, v in student.state_dict().items()}
    train_data, _ = corpus.split(2)
    result = train(task, IndexedChunks(train_data), TrainConfig(out_dir=str(tmp_path / "run"), max_steps=2,
                   batch_size=4, progress=False), collate_fn=partial(collate, pad_token_id=0))
    assert np.isfinite(result["loss"]) and {"ce", "mlm", "cos"} <= result.keys()
    assert any(not torch.equal(v, start[k]) for k, v in student.state_dict().items())


def test_outputs_of_another_corpus_or_the_logits_mse_are_refused(corpus):
    student, teacher = models()
    outputs = compute_teacher_outputs(teacher, corpus, masking(corpus), k=5)
    batch = first_batch(corpus)
    batch["chunk"] = batch["chunk"].flip(0)
    task = DistillationTask(student, teacher, masking(corpus), teacher_outputs=outputs)
    with pytest.raises(ValueError, match="another corpus"):
        task(batch)
    with pytest.raises(ValueError, match="alpha_mse"):
        DistillationTask(student, teacher, masking(corpus), DistillLoss(alpha_mse=1.0), teacher_outputs=outputs)


# ---------------------------------------------------------------- through the recipe (DistillSettings.teacher_top_k)

def with_vocab(corpus):
    """The recipe saves the student with the corpus's vocab.txt: write the inline vocabulary's."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    (corpus.folder / "vocab.txt").write_text("\n".join(specials + WORDS) + "\n")
    return corpus


def test_the_recipe_on_stored_outputs_gives_the_loss_of_running_the_teacher_each_step(corpus, tmp_path):
    from minidistil.data.batching import LengthGroupedBatches
    from minidistil.data.masking import MaskingOptions
    from minidistil.recipes.recipe import DistillSettings, distill
    _, teacher = models()  # dropout 0: the loss of a step depends on the weights and masks alone
    train_data, _ = with_vocab(corpus).split(2)
    settings = DistillSettings(teacher_top_k=V, masking=MaskingOptions())  # k = V: the full KL
    config = TrainConfig(out_dir=str(tmp_path / "run"), max_steps=1, batch_size=4, log_every=1, seed=3, progress=False)
    _, result = distill(teacher, train_data, config, settings)
    # The same first step, the teacher run on the same (static) masks.
    [folder] = (corpus.folder / "teacher-outputs").glob("*/")
    outputs = TeacherOutputs(folder)
    batch = collate([IndexedChunks(train_data)[int(i)] for i in LengthGroupedBatches(train_data.lengths, 4, 3).batch(0)],
                    pad_token_id=0)
    stored = outputs.batch(batch["chunk"], batch["input_ids"], batch["attention_mask"])
    live = DistillationTask(make_student(teacher), teacher, lambda ids, mask: (stored["input_ids"], stored["labels"]))
    expected = live(batch)
    for term in ("loss", "ce", "mlm", "cos"):  # float16 storage: equal to about 1e-3
        assert result[term] == pytest.approx(expected[term].item(), rel=2e-3, abs=1e-4), term


def test_stored_outputs_are_computed_by_the_first_run_and_read_by_the_next(corpus, tmp_path):
    from minidistil.recipes.recipe import DistillSettings, distill
    _, teacher = models(std=0.02)
    calls = []
    teacher.distilbert.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    train_data, _ = with_vocab(corpus).split(2)
    config = TrainConfig(out_dir=str(tmp_path / "a"), max_steps=2, batch_size=4, seed=5, progress=False)
    distill(teacher, train_data, config, DistillSettings(teacher_top_k=8))
    assert sum(calls) > 0
    computed = sum(calls)
    other = DistillSettings(teacher_top_k=8, student_layers=(0, 5), loss=DistillLoss(alpha_cos=0.0),
                            student_init="random")  # another student and loss: the same teacher side
    distill(teacher, train_data, TrainConfig(**{**vars(config), "out_dir": str(tmp_path / "b")}), other)
    assert sum(calls) == computed  # read back: the teacher did not run
    assert len(list((corpus.folder / "teacher-outputs").glob("*/meta.json"))) == 1


def test_top_k_at_the_masked_positions_only_serves_a_kl_restricted_to_them(corpus):
    student, teacher = models()
    everywhere = compute_teacher_outputs(teacher, corpus, masking(corpus), k=7, dtype="float32")
    masked = compute_teacher_outputs(teacher, corpus, masking(corpus), k=7, dtype="float32", masked_only=True)
    assert masked.folder != everywhere.folder and masked.masked_only
    assert np.array_equal(masked.masked_ids, everywhere.masked_ids)  # the same static masks
    batch = first_batch(corpus)
    restricted = DistillLoss(restrict_ce_to_mask=True)
    losses = [DistillationTask(student, teacher, masking(corpus), restricted, teacher_outputs=o)(batch)
              for o in (everywhere, masked)]
    for term in ("loss", "ce", "mlm", "cos"):
        assert losses[1][term].item() == pytest.approx(losses[0][term].item(), rel=1e-6), term
    with pytest.raises(ValueError, match="masked positions only"):
        DistillationTask(student, teacher, masking(corpus), DistillLoss(), teacher_outputs=masked)
