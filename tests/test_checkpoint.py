"""Model folders in and out: BERT -> DistilBERT on load, strict key checks, and a sentence for every bad file."""
import json

import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

import minidistil as md
from minidistil.nn.checkpoint import CheckpointError

from conftest import BERT_ODD, ODD, batch, randomise  # the odd sizes and fixtures both files share


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


@pytest.mark.parametrize("content,match", [
    (b"", "is empty"), (b"<html><body>404 Not Found</body></html>", "starts with b'<htm'"),
    (b"version https://git-lfs.github.com/spec/v1\n", "neither a zip archive nor a pickle"),
    (b"\x80\x02" + bytes(range(200, 250)), "pickle is malformed"), (b"PK\x03\x04junk", "truncated or corrupted")])
def test_a_pytorch_model_bin_that_is_not_a_checkpoint_says_so(distil_dir, content, match):
    folder, _ = distil_dir
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(content)
    with pytest.raises(CheckpointError, match=match) as e:
        md.DistilBertForMaskedLM.from_pretrained(folder)
    assert "run code" not in str(e.value)


def test_a_pickle_of_something_other_than_named_tensors_is_refused(distil_dir):
    folder, _ = distil_dir
    (folder / "model.safetensors").unlink()
    torch.save([torch.zeros(3)], folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="holds a list, not a dict of named tensors"):
        md.DistilBertForMaskedLM.from_pretrained(folder)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool])
def test_integer_or_bool_tensors_where_float_weights_belong_are_refused_not_cast(distil_dir, dtype):
    folder, _ = distil_dir
    state = load_file(folder / "model.safetensors")
    key = "distilbert.transformer.layer.0.ffn.lin1.weight"
    state[key] = torch.ones_like(state[key], dtype=dtype)
    save_file(state, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match=rf"refused rather than cast.*{key} \({dtype}\)"):
        md.DistilBertForMaskedLM.from_pretrained(folder)


def test_half_precision_weights_still_load(distil_dir):
    folder, model = distil_dir
    save_file({k: v.half() for k, v in load_file(folder / "model.safetensors").items()}, folder / "model.safetensors")
    loaded = md.DistilBertForMaskedLM.from_pretrained(folder)
    assert loaded.distilbert.embeddings.word_embeddings.weight.dtype == torch.float32
    assert torch.equal(loaded.vocab_transform.weight, model.vocab_transform.weight.half().float())


@pytest.mark.parametrize("text,match", [
    ("", "config.json is empty"), ("{\"dim\": 36,", "not valid JSON"), ("[36, 3]", "holds a JSON array"),
    ('{"dim": "36"}', "config.dim must be a positive integer, got '36'"),
    ('{"dropout": "0.1"}', r"config.dropout must be a number in \[0, 1\), got '0.1'"),
    ('{"sinusoidal_pos_embds": "false"}', "sinusoidal_pos_embds must be true or false, got 'false'"),
    ('{"sinusoidal_pos_embds": 0}', "sinusoidal_pos_embds must be true or false, got 0")])
def test_a_broken_config_json_is_one_sentence_naming_the_file(distil_dir, text, match):
    folder, _ = distil_dir
    if text.startswith('{"') and text.endswith("}"):  # one field spoilt in an otherwise good config
        good = json.loads((folder / "config.json").read_text())
        text = json.dumps({**good, **json.loads(text)})
    (folder / "config.json").write_text(text)
    with pytest.raises(CheckpointError, match=match) as e:
        md.DistilBertForMaskedLM.from_pretrained(folder)
    assert str(folder / "config.json") in str(e.value) and "\n" not in str(e.value)


def test_model_type_that_contradicts_the_weights_is_refused(distil_dir, bert_mlm_dir):
    folder, _ = distil_dir
    good = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**good, "model_type": "bert"}))
    with pytest.raises(CheckpointError, match="says model_type 'bert' but the weights are distilbert's"):
        md.DistilBertForMaskedLM.from_pretrained(folder)
    bert_folder, _ = bert_mlm_dir
    (bert_folder / "config.json").write_text((folder / "config.json").read_text().replace('"bert"', '"distilbert"'))
    with pytest.raises(CheckpointError, match="says model_type 'distilbert' but the weights are bert's"):
        md.DistilBertForMaskedLM.from_pretrained(bert_folder)


def test_a_bert_config_without_its_sizes_is_one_sentence(bert_mlm_dir):
    folder, _ = bert_mlm_dir
    raw = json.loads((folder / "config.json").read_text())
    del raw["intermediate_size"]
    (folder / "config.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match="lacks intermediate_size"):
        md.DistilBertForMaskedLM.from_pretrained(folder)
