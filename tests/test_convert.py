"""Checkpoint IO: BERT -> DistilBERT, strict key checks, bad files, student extraction, the CLI."""
import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

import minidistil as md
import weights_convert
from minidistil.convert import CheckpointError, check, extract_student

ODD = dict(vocab_size=99, dim=36, n_heads=3, hidden_dim=37, n_layers=2, max_position_embeddings=17)
BERT_ODD = dict(vocab_size=99, hidden_size=36, num_attention_heads=3, intermediate_size=37, num_hidden_layers=2,
                max_position_embeddings=17, type_vocab_size=2)


def randomise(model, std=0.5):
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, std)
    return model.eval()


@pytest.fixture
def bert_mlm_dir(tmp_path):
    bert = randomise(transformers.BertForMaskedLM(transformers.BertConfig(**BERT_ODD)))
    bert.save_pretrained(str(tmp_path / "bert"))
    return tmp_path / "bert", bert


@pytest.fixture
def distil_dir(tmp_path):
    model = randomise(md.DistilBertForMaskedLM(md.DistilBertConfig(**ODD)))
    model.save_pretrained(tmp_path / "distil")
    return tmp_path / "distil", model


def batch():
    return torch.randint(1, 99, (2, 13)), torch.tensor([[1] * 13, [1] * 7 + [0] * 6])


# ---------------------------------------------------------------- BERT -> DistilBERT

@pytest.mark.parametrize("impl", ["math", "fast"])
def test_bert_with_mlm_head_converts_to_the_same_function(bert_mlm_dir, impl):
    folder, bert = bert_mlm_dir
    ours = md.DistilBertForMaskedLM.from_pretrained(folder, impl=impl)
    ids, mask = batch()
    with torch.no_grad():
        a = ours(ids, mask, output_hidden_states=True)
        b = bert(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids), output_hidden_states=True)
    keep = mask.bool()
    scale = b.logits.abs().max()
    assert (a.logits - b.logits)[keep].abs().max() < 1e-5 * scale
    for x, y in zip(a.hidden_states, b.hidden_states):
        assert (x - y)[keep].abs().max() < 1e-5 * max(1, y.abs().max())
    # token type 0 was folded into the positions: it is not a key of ours any more
    assert not any("token_type" in k for k in ours.state_dict())


def test_bert_to_distilbert_cli_writes_a_folder_transformers_loads(bert_mlm_dir, tmp_path, capsys):
    folder, bert = bert_mlm_dir
    assert weights_convert.main(["bert-to-distilbert", str(folder), str(tmp_path / "out")]) == 0
    hf = transformers.DistilBertForMaskedLM.from_pretrained(str(tmp_path / "out")).eval()
    ids, mask = batch()
    with torch.no_grad():
        a, b = hf(input_ids=ids, attention_mask=mask).logits, bert(input_ids=ids, attention_mask=mask).logits
    assert (a - b)[mask.bool()].abs().max() < 1e-5 * b.abs().max()
    assert "wrote DistilBertForMaskedLM" in capsys.readouterr().out


def test_encoder_only_bert_needs_new_head_for_an_mlm_head(teacher_dir):
    with pytest.raises(CheckpointError, match="new_head=True"):
        md.DistilBertForMaskedLM.from_pretrained(teacher_dir)
    encoder = md.DistilBertModel.from_pretrained(teacher_dir)
    with_head = md.DistilBertForMaskedLM.from_pretrained(teacher_dir, new_head=True)
    for key, value in encoder.state_dict().items():
        assert torch.equal(with_head.distilbert.state_dict()[key], value), key
    assert with_head.vocab_projector.weight is with_head.distilbert.embeddings.word_embeddings.weight


def test_unknown_bert_keys_are_an_error_not_ignored(bert_mlm_dir):
    folder, _ = bert_mlm_dir
    state = load_file(folder / "model.safetensors")
    state["bert.encoder.layer.0.crossattention.self.query.weight"] = torch.zeros(36, 36)
    save_file(state, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="crossattention"):
        md.DistilBertForMaskedLM.from_pretrained(folder)


# ---------------------------------------------------------------- strict key checks

def test_missing_unexpected_and_misshaped_keys_are_listed_in_one_error(distil_dir):
    folder, _ = distil_dir
    state = load_file(folder / "model.safetensors")
    del state["distilbert.transformer.layer.1.ffn.lin2.bias"]
    state["distilbert.transformer.layer.1.ffn.lin3.bias"] = torch.zeros(36)
    state["vocab_transform.weight"] = torch.zeros(36, 35)
    save_file(state, folder / "model.safetensors")
    with pytest.raises(CheckpointError) as e:
        md.DistilBertForMaskedLM.from_pretrained(folder)
    for word in ("missing keys: distilbert.transformer.layer.1.ffn.lin2.bias",
                 "unexpected keys: distilbert.transformer.layer.1.ffn.lin3.bias", "vocab_transform.weight (36, 35)"):
        assert word in str(e.value)


def test_a_config_that_does_not_match_the_weights_is_refused(distil_dir):
    folder, _ = distil_dir
    md.DistilBertConfig(**{**ODD, "dim": 39}).save(folder)
    with pytest.raises(CheckpointError, match="does config.json match the weights"):
        md.DistilBertForMaskedLM.from_pretrained(folder)
    md.DistilBertConfig(**{**ODD, "n_layers": 3}).save(folder)
    with pytest.raises(CheckpointError, match="missing keys: distilbert.transformer.layer.2"):
        md.DistilBertForMaskedLM.from_pretrained(folder)


def test_a_projector_that_differs_from_the_tied_embedding_is_refused(distil_dir):
    folder, _ = distil_dir
    state = load_file(folder / "model.safetensors")
    state["vocab_projector.weight"] = torch.randn(99, 36)
    save_file(state, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="ties the MLM projector"):
        md.DistilBertForMaskedLM.from_pretrained(folder)


def test_head_from_an_encoder_checkpoint_fails_unless_new_head(distil_dir, tmp_path):
    folder, mlm = distil_dir
    mlm.distilbert.save_pretrained(tmp_path / "encoder")
    with pytest.raises(CheckpointError, match="new_head=True"):
        md.DistilBertForSequenceClassification.from_pretrained(tmp_path / "encoder")
    clf = md.DistilBertForSequenceClassification.from_pretrained(folder, new_head=True, num_labels=3)
    assert clf.classifier.out_features == 3
    assert torch.equal(clf.distilbert.transformer.layer[1].ffn.lin1.weight, mlm.distilbert.transformer.layer[1].ffn.lin1.weight)
    encoder = md.DistilBertModel.from_pretrained(folder)  # the encoder of a head checkpoint
    assert torch.equal(encoder.embeddings.word_embeddings.weight, mlm.distilbert.embeddings.word_embeddings.weight)


# ---------------------------------------------------------------- bad files

def test_truncated_or_corrupted_safetensors_is_a_clear_error(distil_dir):
    folder, _ = distil_dir
    path = folder / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        md.DistilBertForMaskedLM.from_pretrained(folder)
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        md.DistilBertForMaskedLM.from_pretrained(folder)


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # unpickling this would create a file: code, not tensors
        return (open, (str(self.marker), "w"))


def test_a_pickle_that_runs_code_is_refused(distil_dir, tmp_path):
    folder, _ = distil_dir
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "pwned"
    torch.save({"distilbert.embeddings.word_embeddings.weight": torch.zeros(1), "x": RunsCode(marker)},
               folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="asks to run code"):
        md.DistilBertForMaskedLM.from_pretrained(folder)
    assert not marker.exists()


def test_pytorch_model_bin_loads_and_converts_to_safetensors(distil_dir, capsys):
    folder, model = distil_dir
    state = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    ids, mask = batch()
    expected = model(ids, mask).logits
    assert torch.equal(md.DistilBertForMaskedLM.from_pretrained(folder)(ids, mask).logits, expected)
    assert weights_convert.main(["bin-to-safetensors", str(folder)]) == 0
    (folder / "pytorch_model.bin").unlink()
    assert torch.equal(md.DistilBertForMaskedLM.from_pretrained(folder)(ids, mask).logits, expected)


# ---------------------------------------------------------------- student extraction

def test_student_runs_the_chosen_teacher_layers():
    teacher = randomise(md.DistilBertForMaskedLM(md.DistilBertConfig(**{**ODD, "n_layers": 6}, impl="math")))
    student = extract_student(teacher)  # default for 6 layers
    assert student.config.n_layers == 3
    ids, mask = batch()
    keep = mask.bool()
    x = teacher.distilbert.embeddings(ids)  # by hand: embeddings, then teacher blocks 0, 2, 5
    for i in (0, 2, 5):
        x, _ = teacher.distilbert.transformer.layer[i](x, keep)
    assert torch.allclose(student.distilbert(ids, mask).last_hidden_state, x, atol=1e-6)
    assert torch.equal(student.vocab_transform.weight, teacher.vocab_transform.weight)
    assert student.vocab_projector.weight is student.distilbert.embeddings.word_embeddings.weight


def test_bad_layer_maps_raise_a_sentence():
    teacher = md.DistilBertModel(md.DistilBertConfig(**{**ODD, "n_layers": 4}))
    for layers in ((0, 4), (2, 1), (1, 1)):
        with pytest.raises(ValueError, match="layer indices"):
            extract_student(teacher, layers)
    with pytest.raises(ValueError, match="no default layer map"):
        extract_student(teacher)


# ---------------------------------------------------------------- check and the CLI

def test_check_reports_small_differences_for_every_output(distil_dir):
    folder, _ = distil_dir
    diffs = check(folder)
    assert {"logits", "hidden_states[2]", "attentions[1]"} <= diffs.keys()
    assert max(diffs.values()) < 1e-4


def test_cli_help_and_bad_input(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        weights_convert.main(["--help"])
    assert e.value.code == 0 and "bert-to-distilbert" in capsys.readouterr().out
    assert weights_convert.main(["check", str(tmp_path / "nowhere")]) != 0
    assert "no config.json" in capsys.readouterr().err
    (tmp_path / "x").mkdir()
    assert weights_convert.main(["extract-student", str(tmp_path / "nowhere"), str(tmp_path / "x")]) != 0


def test_cli_extract_student_and_check(distil_dir, tmp_path, capsys):
    folder, _ = distil_dir
    assert weights_convert.main(["extract-student", str(folder), str(tmp_path / "s"), "--layers", "1"]) == 0
    assert transformers.DistilBertForMaskedLM.from_pretrained(str(tmp_path / "s")).config.n_layers == 1
    assert weights_convert.main(["check", str(tmp_path / "s")]) == 0
    assert "| logits |" in capsys.readouterr().out
