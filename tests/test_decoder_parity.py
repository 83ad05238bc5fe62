"""The translator against transformers' EncoderDecoderModel(DistilBertModel, BertLMHeadModel):
keys, logits on padded batches, the loss, labels shifted exactly once, folders, warm start."""
import pytest
import torch
import torch.nn.functional as F
from transformers import BertConfig, BertForMaskedLM, EncoderDecoderModel

from minidistil.nn.checkpoint import CheckpointError
from minidistil.nn.config import DistilBertConfig
from minidistil.nn.seq2seq import (DistilBertEncoderDecoder, label_smoothed_cross_entropy, shift_right,
                                target_labels, warm_start)
from seq2seq_refs import ENC, EOS, PAD, START, padded_labels, padded_source, tiny_pair

pytestmark = pytest.mark.usefixtures("one_thread")


def close(a, b, scale):
    assert (a - b).abs().max() <= 1e-5 * max(1.0, float(scale)), float((a - b).abs().max())


def test_state_dict_keys_and_shapes_equal_transformers():
    ours, hf = tiny_pair()
    mine, theirs = ours.state_dict(), hf.state_dict()
    assert mine.keys() == theirs.keys()
    assert "decoder.bert.encoder.layer.0.crossattention.self.query.weight" in mine
    assert "decoder.cls.predictions.transform.dense.weight" in mine
    assert all(mine[k].shape == theirs[k].shape for k in mine)


@pytest.mark.parametrize("impl", ["math", "fast"])
def test_logits_equal_transformers_on_padded_batches(impl):
    ours, hf = tiny_pair(impl)
    ids, mask = padded_source()
    labels = padded_labels()
    with torch.no_grad():
        mine = ours(ids, mask, labels=labels)
        theirs = hf(input_ids=ids, attention_mask=mask, labels=labels)
    scale = theirs.logits.abs().max()
    close(mine.logits, theirs.logits, scale)  # padded target positions included
    close(mine.loss, theirs.loss, theirs.loss)


def test_different_encoder_width_projects_like_transformers():
    ours, hf = tiny_pair(dec=dict(hidden_size=15))
    assert "enc_to_dec_proj.weight" in ours.state_dict()
    ids, mask = padded_source()
    dec_in = torch.tensor([[START, 5, 6], [START, 7, 8], [START, 9, 10]])
    with torch.no_grad():
        close(ours(ids, mask, decoder_input_ids=dec_in).logits,
              hf(input_ids=ids, attention_mask=mask, decoder_input_ids=dec_in).logits, 10)


def test_labels_are_shifted_right_once_with_start_and_pad():
    labels = torch.tensor([[5, 6, EOS], [7, EOS, -100]])
    assert shift_right(labels, START, PAD).tolist() == [[START, 5, 6], [START, 7, EOS]]
    # the loss at position t reads logits[t] against labels[t], no second shift: changing the label
    # at t changes no logit at or before t
    ours, _ = tiny_pair()
    ids, mask = padded_source(B=2)
    other = labels.clone()
    other[0, 1] = 9
    with torch.no_grad():
        a, b = ours(ids, mask, labels=labels).logits, ours(ids, mask, labels=other).logits
    assert torch.equal(a[0, :2], b[0, :2]) and not torch.allclose(a[0, 2], b[0, 2])


def test_loss_skips_padding_and_equals_cross_entropy_on_real_positions():
    ours, _ = tiny_pair()
    ids, mask = padded_source()
    labels = padded_labels()
    with torch.no_grad():
        out = ours(ids, mask, labels=labels)
    real = labels != -100
    assert torch.allclose(out.loss, F.cross_entropy(out.logits[real], labels[real]))


def test_label_smoothing_mixes_gold_and_uniform():
    logits, labels = torch.randn(2, 3, 41), torch.tensor([[4, 5, -100], [6, -100, -100]])
    e, logp, real = 0.1, logits.log_softmax(-1), labels != -100
    nll = -logp[real].gather(1, labels[real][:, None]).squeeze(1)
    expected = ((1 - e) * nll + e * -logp[real].mean(-1)).mean()
    assert torch.allclose(label_smoothed_cross_entropy(logits, labels, e), expected, atol=1e-6)


def test_labels_with_the_start_token_are_refused():  # transformers issue #32344: "[CLS] [CLS] ..."
    ours, _ = tiny_pair()
    ids, mask = padded_source(B=2)
    with pytest.raises(ValueError, match="begins with the start token"):
        ours(ids, mask, labels=torch.tensor([[START, 5, EOS], [START, 6, EOS]]))


def test_labels_padded_with_the_pad_id_are_refused():  # the model would learn to write padding
    ours, _ = tiny_pair()
    ids, mask = padded_source(B=2)
    with pytest.raises(ValueError, match="-100"):
        ours(ids, mask, labels=torch.tensor([[5, 6, EOS], [7, EOS, PAD]]))


def test_target_labels_drop_the_start_and_keep_the_end():
    assert target_labels([[START, 5, 6, EOS], [7]], START, EOS) == [[5, 6, EOS], [7, EOS]]


def test_folder_round_trip_and_transformers_reads_it(tmp_path):
    ours, hf = tiny_pair(impl="fast")
    ours.save_pretrained(tmp_path / "t")
    back = DistilBertEncoderDecoder.from_pretrained(tmp_path / "t", impl="math")
    theirs = EncoderDecoderModel.from_pretrained(tmp_path / "t").eval()
    ids, mask = padded_source()
    labels = padded_labels()
    with torch.no_grad():
        a = ours(ids, mask, labels=labels).logits
        close(back(ids, mask, labels=labels).logits, a, a.abs().max())
        close(theirs(input_ids=ids, attention_mask=mask, labels=labels).logits, a, a.abs().max())
    assert back.decoder.cls.predictions.decoder.weight is back.decoder.bert.embeddings.word_embeddings.weight


def test_a_folder_that_is_not_a_translator_says_so_in_one_sentence(tmp_path):
    DistilBertConfig(**ENC).save(tmp_path)
    with pytest.raises(CheckpointError, match="is not a translator") as e:
        DistilBertEncoderDecoder.from_pretrained(tmp_path)
    assert "\n" not in str(e.value)
    with pytest.raises(FileNotFoundError, match="no config.json"):
        DistilBertEncoderDecoder.from_pretrained(tmp_path / "nothing")


def test_warm_start_equals_transformers_from_encoder_decoder_pretrained(tmp_path):
    """A BERT folder with an MLM head warm-starts the decoder as transformers does; only the
    cross-attention is new (copied across here, as it is random in both)."""
    torch.manual_seed(1)
    bert = BertForMaskedLM(BertConfig(vocab_size=41, hidden_size=12, num_attention_heads=3, intermediate_size=19,
                                      num_hidden_layers=3, max_position_embeddings=24))
    with torch.no_grad():
        for p in bert.parameters():
            p.normal_(0, 0.5)
    bert.save_pretrained(tmp_path / "bert")
    ours, _ = tiny_pair()
    ours.encoder.save_pretrained(tmp_path / "enc")
    warm = warm_start(tmp_path / "enc", tmp_path / "bert", start_id=START, eos_id=EOS, pad_id=PAD).eval()
    theirs = EncoderDecoderModel.from_encoder_decoder_pretrained(tmp_path / "enc", tmp_path / "bert").eval()
    theirs_state = theirs.state_dict()
    for key, value in warm.state_dict().items():
        if ".crossattention." in key:
            theirs_state[key].copy_(value)  # new in both, so random in both: copied across
        elif not key.startswith("decoder.bert.embeddings"):  # ours folds token type 0 into the positions
            assert torch.equal(value, theirs_state[key]), key
    ids, mask = padded_source()
    dec_in = torch.tensor([[START, 5, 6], [START, 7, 8], [START, 9, 10]])
    with torch.no_grad():
        a = warm(ids, mask, decoder_input_ids=dec_in).logits
        close(theirs(input_ids=ids, attention_mask=mask, decoder_input_ids=dec_in).logits, a, a.abs().max())


def test_smaller_decoder_takes_the_named_layers_and_trimmed_vocab_takes_the_rows(tmp_path):
    torch.manual_seed(2)
    bert = BertForMaskedLM(BertConfig(vocab_size=41, hidden_size=12, num_attention_heads=3, intermediate_size=19,
                                      num_hidden_layers=3, max_position_embeddings=24))
    bert.save_pretrained(tmp_path / "bert")
    keep = [0, 1, 2, 7, 9, 30]
    warm = warm_start(None, tmp_path / "bert", encoder_config=DistilBertConfig(**ENC), decoder_layers=(0, 2),
                      target_keep_ids=keep, start_id=1, eos_id=2, pad_id=0)
    d, b = warm.decoder, bert.state_dict()
    assert d.config.num_hidden_layers == 2 and d.config.vocab_size == 6
    assert torch.equal(d.bert.encoder.layer[1].attention.self.query.weight, b["bert.encoder.layer.2.attention.self.query.weight"])
    assert torch.equal(d.bert.embeddings.word_embeddings.weight, b["bert.embeddings.word_embeddings.weight"][keep])
    assert torch.equal(d.cls.predictions.bias, b["cls.predictions.bias"][keep])
