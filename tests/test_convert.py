"""The converter: student extraction, bin -> safetensors, the check against transformers, and its CLI."""
import pytest
import torch
import transformers
from safetensors.torch import load_file

import minidistil as md
import weights_convert
from minidistil import pipeline
from minidistil.apps.convert import check
from minidistil.training.distill import STUDENT_LAYERS, extract_student, student_layers

from conftest import BERT_ODD, ODD, batch, randomise  # the odd sizes and fixtures both files share


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
    for layers in ((0, 4), (2, 1), (1, 1), (), (0.5,)):
        with pytest.raises(ValueError, match="layer indices"):
            extract_student(teacher, layers)
    with pytest.raises(ValueError, match=r"no default layer map for a 4-layer teacher \(defaults exist for 6 and 12"):
        extract_student(teacher)


def test_the_default_layers_live_in_one_table():
    assert student_layers(6) == STUDENT_LAYERS[6] == (0, 2, 5)
    assert student_layers(12) == (0, 2, 4, 7, 9, 11)
    assert student_layers(4, [0, 3]) == (0, 3)
    teacher = md.DistilBertModel(md.DistilBertConfig(**{**ODD, "n_layers": 12}))
    assert extract_student(teacher).config.n_layers == 6


# ---------------------------------------------------------------- bin -> safetensors

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


# ---------------------------------------------------------------- check and the CLI

@pytest.mark.parametrize("impl", ["math", "fast"])
def test_check_reports_small_differences_for_every_output(distil_dir, impl):
    folder, _ = distil_dir
    diffs = check(folder, impl=impl)
    assert {"logits", "hidden_states[2]", "attentions[1]"} <= diffs.keys()
    assert all(d.passes(1e-5) for d in diffs.values()), diffs
    logits = diffs["logits"]
    assert logits.scale > 1 and logits.diff <= 1e-5 * logits.scale  # the tolerance scales with the output


def test_check_verdict_and_exit_code_follow_the_tolerance(distil_dir, capsys):
    folder, _ = distil_dir
    assert weights_convert.main(["check", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "PASS: all" in out and "within 1e-04" in out
    # fp32 rounding leaves differences around 1e-7; a tolerance below that must fail, with exit code 1
    assert weights_convert.main(["check", str(folder), "--tol", "1e-12"]) == 1
    out = capsys.readouterr().out
    assert "FAIL:" in out and "| NO |" in out


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


def test_converted_and_extracted_folders_are_complete_for_pipeline(teacher_dir, tmp_path):
    """bert-to-distilbert and extract-student copy the tokenizer files, so pipeline() loads what they write."""
    texts = ["A man is eating food.", "The girl is carrying a baby."]
    assert weights_convert.main(["bert-to-distilbert", str(teacher_dir), str(tmp_path / "teacher")]) == 0
    assert (tmp_path / "teacher" / "vocab.txt").read_bytes() == (teacher_dir / "vocab.txt").read_bytes()
    original, converted = (pipeline("embedding", model=str(f))(texts) for f in (teacher_dir, tmp_path / "teacher"))
    assert torch.allclose(original, converted, atol=1e-6)
    assert weights_convert.main(["extract-student", str(tmp_path / "teacher"), str(tmp_path / "student")]) == 0
    student = pipeline("embedding", model=str(tmp_path / "student"))(texts)
    assert student.shape == original.shape


def test_bert_to_distilbert_cli_writes_a_folder_transformers_loads(bert_mlm_dir, tmp_path, capsys):
    folder, bert = bert_mlm_dir
    assert weights_convert.main(["bert-to-distilbert", str(folder), str(tmp_path / "out")]) == 0
    hf = transformers.DistilBertForMaskedLM.from_pretrained(str(tmp_path / "out")).eval()
    ids, mask = batch()
    with torch.no_grad():
        a, b = hf(input_ids=ids, attention_mask=mask).logits, bert(input_ids=ids, attention_mask=mask).logits
    assert (a - b)[mask.bool()].abs().max() < 1e-5 * b.abs().max()
    out, err = capsys.readouterr()
    assert "wrote DistilBertForMaskedLM" in out
    assert "has no vocab.txt" in err  # this BERT came without a tokenizer: said, not silently incomplete
