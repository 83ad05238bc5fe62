"""The config: Hugging Face's fields, its label-count setter and aliases, validation, config.json."""
import json

import pytest
import transformers

import minidistil as md

ODD = dict(vocab_size=99, dim=36, n_heads=3, hidden_dim=37, n_layers=2, max_position_embeddings=17)


def test_setting_num_labels_resizes_the_label_maps_as_transformers_does():
    ours = md.DistilBertConfig(id2label={0: "neg", 1: "pos"})
    theirs = transformers.DistilBertConfig(id2label={0: "neg", 1: "pos"})
    ours.num_labels = theirs.num_labels = 2  # the same count keeps the names, in both libraries
    assert ours.id2label == theirs.id2label == {0: "neg", 1: "pos"}
    for n in (3, 1, 5):
        ours.num_labels = theirs.num_labels = n
        assert ours.id2label == theirs.id2label and ours.label2id == theirs.label2id, n
        assert ours.num_labels == theirs.num_labels == n
    assert ours.id2label[4] == "LABEL_4"


def test_setting_id2label_sets_num_labels_as_transformers_does():
    ours, theirs = md.DistilBertConfig(), transformers.DistilBertConfig()
    ours.id2label = theirs.id2label = {0: "a", 1: "b", 2: "c"}
    assert ours.num_labels == theirs.num_labels == 3
    assert ours.label2id == {"a": 0, "b": 1, "c": 2}


def test_a_model_built_after_num_labels_is_set_saves_a_folder_both_libraries_load(tmp_path):
    config = md.DistilBertConfig(**ODD)
    config.num_labels = 3
    model = md.DistilBertForSequenceClassification(config)
    model.save_pretrained(tmp_path)
    assert md.DistilBertForSequenceClassification.from_pretrained(tmp_path).classifier.out_features == 3
    hf = transformers.DistilBertForSequenceClassification.from_pretrained(str(tmp_path))
    assert hf.config.num_labels == 3 and hf.classifier.out_features == 3


@pytest.mark.parametrize("alias,name", [("hidden_size", "dim"), ("num_attention_heads", "n_heads"),
                                        ("num_hidden_layers", "n_layers")])
def test_transformers_aliases_read_and_write_the_same_fields(alias, name):
    ours, theirs = md.DistilBertConfig(), transformers.DistilBertConfig()
    assert getattr(ours, alias) == getattr(theirs, alias) == getattr(ours, name)
    setattr(ours, alias, 48)
    setattr(theirs, alias, 48)
    assert getattr(ours, name) == getattr(theirs, name) == getattr(ours, alias) == 48
    assert alias not in ours.to_dict()  # config.json keeps DistilBERT's own names, as transformers writes it
    assert getattr(md.DistilBertConfig.from_dict({alias: 48}), name) == 48


def test_odd_dim_is_allowed_with_sinusoidal_positions():
    assert md.DistilBertConfig(**{**ODD, "dim": 35, "n_heads": 5}, sinusoidal_pos_embds=True).dim == 35


@pytest.mark.parametrize("bad,match", [
    (dict(dim=36, n_heads=5), "must divide"), (dict(impl="cuda"), "impl"), (dict(activation="gelu_new"), "activation"),
    (dict(dropout=1.5), "dropout"), (dict(n_layers=0), "n_layers"), (dict(pad_token_id=99), "pad_token_id"),
    (dict(problem_type="ranking"), "problem_type"), (dict(dim="36"), "dim must be a positive integer"),
    (dict(dropout="0.1"), r"dropout must be a number in \[0, 1\)"), (dict(pad_token_id="0"), "pad_token_id"),
    (dict(initializer_range="0.02"), "initializer_range"), (dict(n_heads=True), "n_heads"),
    (dict(sinusoidal_pos_embds="false"), "true or false"), (dict(tie_word_embeddings=1), "true or false"),
    (dict(id2label=["neg", "pos"]), "map class ids"), (dict(num_labels=0), "num_labels")])
def test_bad_config_raises_a_sentence(bad, match):
    with pytest.raises(ValueError, match=match):
        md.DistilBertConfig(**{**ODD, **bad})


def test_setting_a_bad_label_count_raises_a_sentence():
    config = md.DistilBertConfig()
    with pytest.raises(ValueError, match="num_labels must be a positive integer"):
        config.num_labels = 0
    assert config.num_labels == 2 and len(config.id2label) == 2


def test_config_round_trips_through_json(tmp_path):
    config = md.DistilBertConfig(**ODD, id2label={0: "neg", 1: "neu", 2: "pos"}, impl="math")
    config.save(tmp_path)
    loaded = md.DistilBertConfig.load(tmp_path)
    assert loaded == config and loaded.num_labels == 3 and loaded.label2id["pos"] == 2


@pytest.mark.parametrize("text,match", [("", "is empty"), ("{dim: 3", "not valid JSON"), ("[1, 2]", "JSON array"),
                                        ('"distilbert"', "JSON string")])
def test_a_broken_config_json_raises_a_sentence(tmp_path, text, match):
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(ValueError, match=match):
        md.DistilBertConfig.load(tmp_path)


def test_transformers_aliases_work_as_constructor_keywords_with_the_same_config_json(tmp_path):
    aliases = dict(hidden_size=36, num_attention_heads=3, num_hidden_layers=2)
    ours = md.DistilBertConfig(vocab_size=99, hidden_dim=37, **aliases)
    theirs = transformers.DistilBertConfig(vocab_size=99, hidden_dim=37, **aliases)
    assert (ours.dim, ours.n_heads, ours.n_layers) == (theirs.dim, theirs.n_heads, theirs.n_layers) == (36, 3, 2)
    assert ours == md.DistilBertConfig(vocab_size=99, hidden_dim=37, dim=36, n_heads=3, n_layers=2)
    ours.save(tmp_path / "ours")
    theirs.save_pretrained(tmp_path / "theirs")
    ours_json, theirs_json = (json.loads((tmp_path / who / "config.json").read_text()) for who in ("ours", "theirs"))
    shared = set(ours_json) & set(theirs_json)  # theirs adds bookkeeping (transformers_version, dtype, ..)
    assert {"dim", "n_heads", "n_layers", "hidden_dim", "vocab_size"} <= shared
    assert {k: ours_json[k] for k in shared} == {k: theirs_json[k] for k in shared}
    assert not set(aliases) & set(ours_json) and not set(aliases) & set(theirs_json)
    loaded = transformers.DistilBertConfig.from_pretrained(str(tmp_path / "ours"))
    assert (loaded.dim, loaded.n_heads, loaded.n_layers, loaded.hidden_dim) == (36, 3, 2, 37)


def test_intermediate_size_is_refused_with_the_name_distilbert_uses():
    # transformers keeps intermediate_size as an unused extra: its FFN stays 3072 wide
    assert transformers.DistilBertConfig(intermediate_size=37).hidden_dim == 3072
    with pytest.raises(ValueError, match="hidden_dim=37"):
        md.DistilBertConfig(intermediate_size=37)


def test_an_alias_and_its_field_that_disagree_raise_a_sentence():
    with pytest.raises(ValueError, match="hidden_size is another name for dim"):
        md.DistilBertConfig(dim=36, hidden_size=48, n_heads=3)
