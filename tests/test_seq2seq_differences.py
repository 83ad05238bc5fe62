"""Where the translator used to differ from transformers, now each against transformers' own output:
the filler after a finished beam with pad id 0, the decoder mask when the start token is the pad
token, warm-starting from a decoder that already has cross-attention. And what a transformers user
reaches for next: inputs_embeds, decoder_inputs_embeds, gradient checkpointing, the decoder alone
as a causal language model with labels."""
import pytest
import torch
from transformers import BertConfig, BertLMHeadModel, EncoderDecoderModel

from minidistil.nn.generate import generate
from minidistil.nn.seq2seq import warm_start
from seq2seq_refs import DEC, EOS, PAD, START, generating_pair, hf_twin, padded_labels, padded_source, tiny_pair

pytestmark = pytest.mark.usefixtures("one_thread")


def close(a, b):
    torch.testing.assert_close(a, b, atol=1e-5 * max(1.0, float(b.abs().max())), rtol=0)


@pytest.mark.parametrize("num_beams,early_stopping", [(3, False), (4, True), (3, "never")])
def test_a_finished_beam_is_filled_as_transformers_fills_it_with_pad_id_zero(num_beams, early_stopping):
    """transformers fills with `pad_token_id or eos_token_id`: the end token again when the pad id is 0."""
    ours, hf = generating_pair(7, 2.0)
    ids, mask = padded_source(7)
    kw = dict(num_beams=num_beams, max_length=12, early_stopping=early_stopping)
    mine = generate(ours, ids, mask, **kw)
    with torch.no_grad():
        theirs = hf.generate(input_ids=ids, attention_mask=mask, decoder_start_token_id=START, eos_token_id=EOS,
                             pad_token_id=PAD, **kw)
    assert torch.equal(mine, theirs)
    ended = [row for row in mine.tolist() if EOS in row and row.index(EOS) < len(row) - 1]
    assert ended and all(t == EOS for row in ended for t in row[row.index(EOS):])  # the case is exercised


@pytest.mark.parametrize("impl", ["math", "fast"])
def test_start_token_equal_to_pad_is_masked_as_transformers(impl):
    """transformers masks `decoder_input_ids != pad`: with start == pad (T5-style) the first position
    reads no decoder token, and no later position reads it."""
    ours, hf = tiny_pair(impl)
    ours.config.decoder_start_token_id = hf.config.decoder_start_token_id = PAD
    ids, mask = padded_source()
    labels = padded_labels()
    with torch.no_grad():
        mine, theirs = ours(ids, mask, labels=labels), hf(input_ids=ids, attention_mask=mask, labels=labels)
    close(mine.logits, theirs.logits)
    close(mine.loss, theirs.loss)
    dec_in = torch.tensor([[PAD, 5, 9], [PAD, 7, 8], [PAD, 6, 6]])  # the mask from the ids, not from labels
    other = dec_in.clone()
    other[:, 2] = 11
    with torch.no_grad():
        a = ours(ids, mask, decoder_input_ids=dec_in, decoder_attention_mask=(dec_in != PAD).long()).logits
        b = ours(ids, mask, decoder_input_ids=other, decoder_attention_mask=(other != PAD).long()).logits
    assert torch.equal(a[:, :2], b[:, :2])  # a query with no key to read does not average the future ones


def decoder_with_cross_attention(tmp_path, layers=3):
    torch.manual_seed(4)
    dec = BertLMHeadModel(BertConfig(vocab_size=DEC["vocab_size"], hidden_size=12, num_attention_heads=3,
                                     intermediate_size=19, num_hidden_layers=layers, max_position_embeddings=24,
                                     is_decoder=True, add_cross_attention=True))
    with torch.no_grad():
        for p in dec.parameters():
            p.normal_(0, 0.5)
    dec.save_pretrained(tmp_path / "dec")
    return dec


def test_warm_start_keeps_a_trained_decoders_cross_attention_as_transformers(tmp_path):
    dec = decoder_with_cross_attention(tmp_path)
    ours, _ = tiny_pair()
    ours.encoder.save_pretrained(tmp_path / "enc")
    warm = warm_start(tmp_path / "enc", tmp_path / "dec", start_id=START, eos_id=EOS, pad_id=PAD).eval()
    theirs = EncoderDecoderModel.from_encoder_decoder_pretrained(tmp_path / "enc", tmp_path / "dec").eval()
    theirs_state = theirs.state_dict()
    for key, value in warm.state_dict().items():
        assert torch.equal(value, theirs_state[key]), key  # the cross-attention included
    assert torch.equal(warm.decoder.bert.encoder.layer[1].crossattention.self.key.weight,
                       dec.bert.encoder.layer[1].crossattention.self.key.weight)
    ids, mask = padded_source()
    dec_in = torch.tensor([[START, 5, 6], [START, 7, 8], [START, 9, 10]])
    with torch.no_grad():
        close(warm(ids, mask, decoder_input_ids=dec_in).logits,
              theirs(input_ids=ids, attention_mask=mask, decoder_input_ids=dec_in).logits)
    smaller = warm_start(tmp_path / "enc", tmp_path / "dec", decoder_layers=(0, 2), start_id=START, eos_id=EOS)
    assert torch.equal(smaller.decoder.bert.encoder.layer[1].crossattention.output.dense.weight,
                       dec.bert.encoder.layer[2].crossattention.output.dense.weight)


def test_inputs_embeds_and_decoder_inputs_embeds_equal_transformers():
    ours, hf = tiny_pair()
    ids, mask = padded_source()
    dec_in = torch.tensor([[START, 5, 6], [START, 7, 8], [START, 9, 10]])
    embeds = ours.encoder.embeddings.word_embeddings(ids).detach()
    dec_embeds = ours.decoder.bert.embeddings.word_embeddings(dec_in).detach()
    with torch.no_grad():
        mine = ours(inputs_embeds=embeds, attention_mask=mask, decoder_inputs_embeds=dec_embeds).logits
        theirs = hf(inputs_embeds=embeds, attention_mask=mask, decoder_inputs_embeds=dec_embeds).logits
        close(mine, theirs)
        close(ours(ids, mask, decoder_input_ids=dec_in).logits, theirs)
    g_ours, _ = generating_pair(0, 1.5)
    embeds = g_ours.encoder.embeddings.word_embeddings(ids).detach()
    assert torch.equal(generate(g_ours, inputs_embeds=embeds, attention_mask=mask, num_beams=2, max_length=9),
                       generate(g_ours, ids, mask, num_beams=2, max_length=9))


def test_gradient_checkpointing_gives_the_same_loss_and_gradients():
    ours, _ = tiny_pair("fast")
    ids, mask = padded_source()
    labels = padded_labels()
    grads = []
    for checkpointing in (False, True):
        if checkpointing:
            ours.gradient_checkpointing_enable()
        ours.train()
        torch.manual_seed(0)  # the same dropout masks: checkpointing replays the RNG state
        ours.zero_grad()
        loss = ours(ids, mask, labels=labels).loss
        loss.backward()
        grads.append((loss.detach(), [p.grad.clone() for p in ours.parameters() if p.grad is not None]))
    assert ours.decoder.gradient_checkpointing and ours.encoder.transformer.gradient_checkpointing
    torch.testing.assert_close(grads[0][0], grads[1][0])
    for a, b in zip(grads[0][1], grads[1][1]):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("impl", ["math", "fast"])
def test_decoder_alone_is_a_causal_lm_with_transformers_loss(impl):
    """BertLMHeadModel(is_decoder=True) without encoder states: causal self-attention only, and the
    loss of token t + 1 from position t (it shifts the labels inside)."""
    ours, _ = tiny_pair(impl)
    dec = ours.decoder
    hf = BertLMHeadModel(BertConfig(vocab_size=DEC["vocab_size"], hidden_size=12, num_attention_heads=3,
                                    intermediate_size=19, num_hidden_layers=2, max_position_embeddings=24,
                                    is_decoder=True)).eval()
    missing, unexpected = hf.load_state_dict(dec.state_dict(), strict=False)
    assert not missing and all(".crossattention." in k for k in unexpected)
    ids = torch.tensor([[START, 5, 9, 11, 4, EOS], [START, 7, 3, EOS, PAD, PAD]])
    attn = (ids != PAD).long()
    labels = ids.masked_fill(attn == 0, -100)
    with torch.no_grad():
        mine = dec(ids, attention_mask=attn, labels=labels)
        theirs = hf(input_ids=ids, attention_mask=attn, labels=labels)
    close(mine.logits, theirs.logits)
    close(mine.loss, theirs.loss)


def test_forward_attentions_and_hidden_states_equal_transformers_under_its_names():
    ours, _ = tiny_pair("math")
    hf = hf_twin(ours, "eager")
    ids, mask = padded_source()
    labels = padded_labels()
    with torch.no_grad():
        mine = ours(ids, mask, labels=labels, output_attentions=True, output_hidden_states=True)
        theirs = hf(input_ids=ids, attention_mask=mask, labels=labels, output_attentions=True, output_hidden_states=True)
    for name in ("encoder_attentions", "encoder_hidden_states", "decoder_attentions", "cross_attentions",
                 "decoder_hidden_states"):
        assert len(getattr(mine, name)) == len(getattr(theirs, name)), name
        for a, b in zip(getattr(mine, name), getattr(theirs, name)):
            close(a, b)
