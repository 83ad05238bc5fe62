"""The recipe: extraction copies the mapped layers, the teacher stays frozen, the triple loss adds up."""
import numpy as np
import pytest
import torch

from minidistil import DistilBertConfig, DistilBertForMaskedLM
from minidistil.training.distill import STUDENT_LAYERS
from minidistil.data.batching import collate
from minidistil.training.distill import DistillationTask, DistillLoss, make_student
from minidistil.data.masking import Masking
from minidistil.training.train import TrainConfig, train

V = 61
MASKING = Masking(mask_token_id=4, special_ids=[0, 2, 3, 4], vocab_size=V)


pytestmark = pytest.mark.usefixtures("one_thread")


def teacher_model(n_layers=6):
    config = DistilBertConfig(vocab_size=V, dim=24, n_heads=2, hidden_dim=37, n_layers=n_layers,
                              max_position_embeddings=32)
    return DistilBertForMaskedLM(config).eval()


def examples(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return [{"input_ids": np.array([2, *rng.integers(5, V, rng.integers(4, 20)), 3])} for _ in range(n)]


def quiet(tmp_path, **overrides):
    return TrainConfig(**{**dict(out_dir=str(tmp_path), max_steps=3, batch_size=4, progress=False), **overrides})


def test_extraction_copies_exactly_the_mapped_layers_embeddings_and_head():
    teacher = teacher_model()
    student = make_student(teacher)
    assert STUDENT_LAYERS[6] == (0, 2, 5) and student.config.n_layers == 3
    t, s = teacher.state_dict(), student.state_dict()
    for i, j in enumerate(STUDENT_LAYERS[6]):
        prefix_s, prefix_t = f"distilbert.transformer.layer.{i}.", f"distilbert.transformer.layer.{j}."
        layer_keys = [k for k in s if k.startswith(prefix_s)]
        assert layer_keys
        assert all(torch.equal(s[k], t[prefix_t + k[len(prefix_s):]]) for k in layer_keys)
    others = [k for k in s if ".transformer.layer." not in k]
    assert all(torch.equal(s[k], t[k]) for k in others)  # embeddings and the MLM head
    assert student.vocab_projector.weight is student.distilbert.embeddings.word_embeddings.weight
    assert student.training  # ready to train, dropout on


def test_random_student_has_the_layer_count_and_fresh_weights():
    teacher = teacher_model()
    student = make_student(teacher, layers=(0, 5), random_init=True)
    assert student.config.n_layers == 2
    assert not torch.equal(student.distilbert.transformer.layer[0].ffn.lin1.weight,
                           teacher.distilbert.transformer.layer[0].ffn.lin1.weight)


def test_a_teacher_without_a_default_layer_map_needs_explicit_layers():
    with pytest.raises(ValueError, match="no default layer map for a 5-layer teacher"):
        make_student(teacher_model(n_layers=5))


def test_a_student_identical_to_the_teacher_has_zero_kl_and_zero_cosine():
    teacher = teacher_model(n_layers=2)
    student = make_student(teacher, layers=(0, 1)).eval()  # a full copy
    task = DistillationTask(student, teacher, MASKING, DistillLoss(alpha_mse=0.5))
    losses = task(collate(examples()))
    assert losses["ce"].item() == pytest.approx(0.0, abs=1e-6)
    assert losses["cos"].item() == pytest.approx(0.0, abs=1e-6)
    assert losses["mse"].item() == pytest.approx(0.0, abs=1e-6)
    assert losses["loss"].item() == pytest.approx(2.0 * losses["mlm"].item(), rel=1e-5)


def test_the_total_loss_is_the_weighted_sum_of_the_terms():
    teacher = teacher_model()
    task = DistillationTask(make_student(teacher), teacher, MASKING,
                            DistillLoss(alpha_ce=5.0, alpha_mlm=2.0, alpha_cos=1.0, alpha_mse=0.25, temperature=3.0))
    torch.manual_seed(1)
    losses = task(collate(examples()))
    expected = 5.0 * losses["ce"] + 2.0 * losses["mlm"] + 1.0 * losses["cos"] + 0.25 * losses["mse"]
    assert losses["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert losses["ce"] > 0 and losses["cos"] > 0


def test_restricting_the_kl_to_masked_positions_changes_only_the_kl_term():
    teacher = teacher_model()
    student = make_student(teacher)
    batch = collate(examples())
    full, masked = (DistillationTask(student, teacher, MASKING, DistillLoss(restrict_ce_to_mask=r)) for r in (False, True))
    student.eval()
    torch.manual_seed(3)
    a = full(batch)
    torch.manual_seed(3)
    b = masked(batch)
    assert a["mlm"].item() == pytest.approx(b["mlm"].item(), rel=1e-6)
    assert a["cos"].item() == pytest.approx(b["cos"].item(), rel=1e-6)
    assert a["ce"].item() != pytest.approx(b["ce"].item(), rel=1e-3)


def test_distillation_trains_the_student_and_never_the_teacher(tmp_path):
    teacher = teacher_model()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student = make_student(teacher)
    task = DistillationTask(student, teacher, MASKING)
    start = {k: v.clone() for k, v in student.state_dict().items()}
    train(task, examples(), quiet(tmp_path))
    assert not teacher.training  # task.train() does not reach the teacher
    assert all(torch.equal(v, before[k]) for k, v in teacher.state_dict().items())
    assert any(not torch.equal(v, start[k]) for k, v in student.state_dict().items())
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["model"]
    assert saved.keys() == {"student." + k for k in student.state_dict()}  # the teacher is not checkpointed


@pytest.mark.parametrize("settings, message", [
    (dict(alpha_ce=0.0, alpha_mlm=0.0, alpha_cos=0.0), "at least one > 0"),
    (dict(alpha_ce=-1.0), "must be >= 0"),
    (dict(temperature=0.0), "temperature must be > 0"),
    (dict(alpha_ce=0.0, temperature=4.0), "only affects the KL term"),  # for library callers, not the CLI alone
])
def test_bad_recipe_settings_raise_a_sentence(settings, message):
    with pytest.raises(ValueError, match=message):
        DistillLoss(**settings)


def test_the_cosine_term_needs_the_teacher_width():
    teacher = teacher_model()
    narrow = DistilBertForMaskedLM(DistilBertConfig(vocab_size=V, dim=16, n_heads=2, hidden_dim=32, n_layers=1))
    with pytest.raises(ValueError, match="set alpha_cos to 0"):
        DistillationTask(narrow, teacher, MASKING)
    DistillationTask(narrow, teacher, MASKING, DistillLoss(alpha_cos=0.0))  # fine without it


def test_the_real_teacher_gives_a_student_of_half_its_layers(teacher_dir):
    teacher = DistilBertForMaskedLM.from_pretrained(teacher_dir, new_head=True)
    assert teacher.config.n_layers == 6 and teacher.config.dim == 384
    student = make_student(teacher)
    assert student.config.n_layers == 3
    assert sum(p.numel() for p in student.parameters()) < sum(p.numel() for p in teacher.parameters())
