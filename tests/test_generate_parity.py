"""generate() against transformers' EncoderDecoderModel.generate on the same tiny random weights:
the logits processors, sampling under the same generator, max_new_tokens after a prefix,
num_return_sequences, eos as a list or None; scores, sequences_scores, beam indices, transition
scores and attentions. Whole tensors are compared (the filler after an end token included)."""
import pytest
import torch

from minidistil.nn.generate import generate
from minidistil.nn.generation_outputs import compute_transition_scores
from seq2seq_refs import EOS, PAD, START, generating_pair, hf_twin, padded_source

pytestmark = pytest.mark.usefixtures("one_thread")


def hf_generate(hf, ids, mask, **kw):
    with torch.no_grad():
        return hf.generate(input_ids=ids, attention_mask=mask, decoder_start_token_id=START, pad_token_id=PAD,
                           **{"eos_token_id": EOS, **kw})


def assert_same(mine, theirs, scores=True):
    assert torch.equal(mine.sequences, theirs.sequences), (mine.sequences, theirs.sequences)
    if scores:
        assert len(mine.scores) == len(theirs.scores)
        for a, b in zip(mine.scores, theirs.scores):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    if theirs.get("sequences_scores") is not None:
        torch.testing.assert_close(mine.sequences_scores, theirs.sequences_scores, atol=1e-5, rtol=1e-5)
        assert torch.equal(mine.beam_indices, theirs.beam_indices.long())


PROCESSORS = [
    {},
    {"repetition_penalty": 1.8},
    {"no_repeat_ngram_size": 2},
    {"bad_words_ids": [[21], [24, 26], [EOS]]},
    {"min_length": 7},
    {"min_new_tokens": 5},
    {"forced_bos_token_id": 9},
    {"forced_eos_token_id": EOS},
    {"eos_token_id": [EOS, 24]},
    {"repetition_penalty": 1.3, "no_repeat_ngram_size": 3, "min_length": 4, "forced_bos_token_id": 5},
]


@pytest.mark.parametrize("num_beams", [1, 3])
@pytest.mark.parametrize("settings", PROCESSORS, ids=lambda s: ",".join(s) or "plain")
def test_processors_give_transformers_tokens_and_scores(settings, num_beams):
    ours, hf = generating_pair(7, 2.0)
    ids, mask = padded_source(7)
    kw = dict(num_beams=num_beams, max_length=11, return_dict_in_generate=True, output_scores=True, **settings)
    assert_same(generate(ours, ids, mask, **kw), hf_generate(hf, ids, mask, **kw))


def test_processors_change_the_output():  # so that the parity above is not vacuous
    ours, _ = generating_pair(7, 2.0)
    ids, mask = padded_source(7)
    plain = generate(ours, ids, mask, max_length=11)
    for settings in PROCESSORS[1:]:
        assert not torch.equal(generate(ours, ids, mask, max_length=11, **settings), plain), settings


@pytest.mark.parametrize("num_beams,n", [(1, 1), (4, 3), (3, 3)])
def test_beams_and_num_return_sequences_equal_transformers(num_beams, n):
    ours, hf = generating_pair(7, 2.0)
    ids, mask = padded_source(7)
    kw = dict(num_beams=num_beams, num_return_sequences=n, max_length=12, length_penalty=0.7,
              return_dict_in_generate=True, output_scores=True)
    mine = generate(ours, ids, mask, **kw)
    assert mine.sequences.shape[0] == 3 * n
    assert_same(mine, hf_generate(hf, ids, mask, **kw))


@pytest.mark.parametrize("num_beams", [1, 2])
def test_max_new_tokens_counts_after_a_decoder_prefix(num_beams):
    ours, hf = generating_pair(3, 2.0)
    ids, mask = padded_source(3)
    for prefix in (torch.tensor([[START, 7, 8]] * 3), torch.tensor([[7, 8]] * 3)):  # the start token put in front
        kw = dict(num_beams=num_beams, max_new_tokens=4, decoder_input_ids=prefix, eos_token_id=[],
                  return_dict_in_generate=True, output_scores=True)
        mine = generate(ours, ids, mask, **kw)
        assert mine.sequences.shape[1] == 3 + 4 and mine.sequences[:, 1:3].eq(torch.tensor([7, 8])).all()
        assert_same(mine, hf_generate(hf, ids, mask, **{**kw, "eos_token_id": None}))


@pytest.mark.parametrize("num_beams", [1, 3])
def test_eos_none_runs_to_the_length_limit_as_transformers(num_beams):
    ours, hf = generating_pair(7, 4.0)  # the end token is likely: a run that stops at it would be short
    ids, mask = padded_source(7)
    hf.config.eos_token_id = hf.generation_config.eos_token_id = None
    hf.config.decoder.eos_token_id = None
    mine = generate(ours, ids, mask, num_beams=num_beams, max_length=9, eos_token_id=None)
    with torch.no_grad():
        theirs = hf.generate(input_ids=ids, attention_mask=mask, num_beams=num_beams, max_length=9,
                             decoder_start_token_id=START, pad_token_id=PAD)
    assert mine.shape == (3, 9) and torch.equal(mine, theirs)
    assert (generate(ours, ids, mask, num_beams=num_beams, max_length=9) == EOS).any()


SAMPLING = [
    dict(),
    dict(temperature=0.7),
    dict(top_k=5),
    dict(top_p=0.8),
    dict(temperature=1.3, top_k=10, top_p=0.9, repetition_penalty=1.2),
    dict(num_return_sequences=3, top_k=0),
    dict(num_beams=3, top_k=8),  # beam sampling
    dict(num_beams=3, num_return_sequences=2, temperature=0.8),
]


@pytest.mark.parametrize("settings", SAMPLING, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "plain")
def test_sampling_under_the_same_generator_equals_transformers(settings):
    """transformers draws with torch.multinomial from the global generator; a torch.Generator seeded
    alike gives the same draws, so the tokens are equal, not only alike in distribution."""
    ours, hf = generating_pair(0, 1.0)
    ids, mask = padded_source(0)
    kw = dict(do_sample=True, max_length=10, return_dict_in_generate=True, output_scores=True, **settings)
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        theirs = hf_generate(hf, ids, mask, **kw)
        mine = generate(ours, ids, mask, generator=torch.Generator().manual_seed(seed), **kw)
        assert_same(mine, theirs)


def test_a_seed_repeats_a_run_and_different_seeds_differ():
    ours, _ = generating_pair(0, 1.0)
    ids, mask = padded_source(0)
    runs = [generate(ours, ids, mask, do_sample=True, max_length=10, seed=s) for s in (5, 5, 6)]
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_transition_scores_equal_transformers_and_sum_to_the_beam_scores():
    ours, hf = generating_pair(7, 2.0)
    ids, mask = padded_source(7)
    for kw in (dict(num_beams=1), dict(num_beams=3, num_return_sequences=2, length_penalty=1.5)):
        kw.update(max_length=11, return_dict_in_generate=True, output_scores=True)
        mine, theirs = generate(ours, ids, mask, **kw), hf_generate(hf, ids, mask, **kw)
        a = compute_transition_scores(mine.sequences, mine.scores, mine.beam_indices)
        b = hf.compute_transition_scores(theirs.sequences, theirs.scores, theirs.get("beam_indices"))
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
        if kw["num_beams"] > 1:
            lengths = (mine.beam_indices >= 0).sum(1)
            torch.testing.assert_close(a.sum(1) / lengths ** 1.5, mine.sequences_scores, atol=1e-4, rtol=1e-4)
    greedy = generate(ours, ids, mask, max_length=11, return_dict_in_generate=True, output_scores=True)
    normed = compute_transition_scores(greedy.sequences, greedy.scores, normalize_logits=True)
    assert (normed <= 0).all() and (normed < 0).any()


def test_attentions_and_hidden_states_have_transformers_names_shapes_and_values():
    ours, _ = generating_pair(7, 2.0)
    hf = hf_twin(ours, "eager")
    ids, mask = padded_source(7)
    kw = dict(max_length=6, return_dict_in_generate=True, output_attentions=True, output_hidden_states=True)
    mine, theirs = generate(ours, ids, mask, **kw), hf_generate(hf, ids, mask, **kw)
    real = mask.bool()
    for a, b in zip(mine.encoder_attentions, theirs.encoder_attentions):  # the padding rows are not computed
        torch.testing.assert_close(a.transpose(1, 2)[real], b.transpose(1, 2)[real], atol=1e-5, rtol=1e-5)
    for a, b in zip(mine.encoder_hidden_states, theirs.encoder_hidden_states):
        torch.testing.assert_close(a[real], b[real], atol=1e-4, rtol=1e-4)
    for name in ("decoder_attentions", "cross_attentions", "decoder_hidden_states"):
        assert len(getattr(mine, name)) == len(getattr(theirs, name)) == mine.sequences.shape[1] - 1
        for step_a, step_b in zip(getattr(mine, name), getattr(theirs, name)):
            for a, b in zip(step_a, step_b):
                torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("settings", [dict(num_beams=1), dict(num_beams=3), dict(num_beams=2, early_stopping=True),
                                      dict(num_beams=3, use_cache=False), dict(num_beams=1, use_cache=False)])
def test_finished_sources_leave_the_batch_and_the_tokens_stay_transformers(settings):
    """Greedy rows that wrote their end token, and sources whose beams cannot improve, are no longer
    run through the decoder; the whole output tensor still equals transformers'."""
    ours, hf = generating_pair(0, 1.5)
    ids, mask = padded_source(0)
    batch_sizes = []
    forward = ours.decoder.forward
    ours.decoder.forward = lambda *a, **k: batch_sizes.append((a[0] if a else k["input_ids"]).shape[0]) or forward(*a, **k)
    mine = generate(ours, ids, mask, max_length=12, **settings)
    rows = 3 * settings["num_beams"]
    assert batch_sizes[0] == rows and min(batch_sizes) < rows  # the batch shrank
    assert torch.equal(mine, hf_generate(hf, ids, mask, max_length=12, **settings))


def test_model_methods_read_as_transformers_calls_them():
    ours, hf = generating_pair(7, 2.0)
    ids, mask = padded_source(7)
    kw = dict(num_beams=3, max_length=10, return_dict_in_generate=True, output_scores=True)
    mine = ours.generate(input_ids=ids, attention_mask=mask, **kw)
    theirs = hf_generate(hf, ids, mask, **kw)
    assert_same(mine, theirs)
    torch.testing.assert_close(ours.compute_transition_scores(mine.sequences, mine.scores, mine.beam_indices),
                               hf.compute_transition_scores(theirs.sequences, theirs.scores, theirs.beam_indices),
                               atol=1e-4, rtol=1e-4)
