"""Task data: fixed seeded splits, the derived tasks read off real text, users' files, bad inputs."""
import io
import json
import tarfile

import pytest

from minidistil.data import debian, sources, tasks, wordnet


@pytest.fixture(scope="module")
def sentiment():
    return tasks.load("sentiment")


def test_splits_are_fixed_by_the_seed_and_cut_80_10_10(sentiment):
    again = tasks.load("sentiment", seed=0)
    assert sentiment.test == again.test and sentiment.train[:50] == again.train[:50]
    n = len(sentiment.train) + len(sentiment.validation) + len(sentiment.test)
    assert n == 12752  # 12,808 snippets, 56 of them repeats
    assert len(sentiment.validation) == len(sentiment.test) == round(0.1 * n)
    assert tasks.load("sentiment", seed=1).test != sentiment.test


def test_splits_do_not_share_examples(sentiment):
    train = {e["text"] for e in sentiment.train}
    assert not train & {e["text"] for e in sentiment.test}
    assert not train & {e["text"] for e in sentiment.validation}


def test_topics_keep_every_article_and_flag_long_documents():
    task = tasks.load("topics")
    assert task.long_documents and task.labels == ["business", "entertainment", "politics", "sports", "tech"]
    assert len(task.train) + len(task.validation) + len(task.test) == 2127  # 98 repeated articles dropped


def test_tweets_use_macro_f1_for_three_unbalanced_classes():
    task = tasks.load("tweets")
    assert task.labels == ["negative", "neutral", "positive"] and task.metric == "macro_f1"


def test_punctuation_tags_say_which_mark_followed_each_word():
    words, tags = tasks.words_and_punctuation('Mr Blair said: "We will win, won\'t we?" He smiled - then left.')
    assert words == ["mr", "blair", "said", "we", "will", "win", "won't", "we", "he", "smiled", "then", "left"]
    assert tags == ["O", "O", "COMMA", "O", "O", "COMMA", "O", "QUESTION", "O", "COMMA", "O", "PERIOD"]


def test_punctuation_task_splits_by_article_with_one_tag_per_word():
    task = tasks.load("punctuation")
    assert task.kind == "token" and task.labels == ["O", "COMMA", "PERIOD", "QUESTION"]
    for e in task.test[:200]:
        assert len(e["words"]) == len(e["tags"]) >= 24
        assert all(w == w.lower() and w.strip(",.?!") == w for w in e["words"])
    tags = [t for e in task.train for t in e["tags"]]
    assert tags.count("PERIOD") > tags.count("QUESTION") > 0


def test_wordnet_is_pinned_and_parses_glosses():
    found = wordnet.synsets()
    assert len(found) == 117659
    assert found[0].words == ("entity",)
    dog = next(s for s in found if s.words[:2] == ("dog", "domestic dog"))
    assert dog.definition.startswith("a member of the genus Canis")
    assert dog.examples == ("the dog barked all night",)


def test_wordnet_refuses_a_file_with_another_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))
    folder = tmp_path / "wordnet-base-3.0-37"
    folder.mkdir()
    (folder / "wordnet-base_3.0-37_all.deb").write_bytes(b"!<arch>\nnot the real package")
    with pytest.raises(sources.SourceError, match="is pinned to"):
        wordnet.data_dir()
    assert not (folder / "wordnet-base_3.0-37_all.deb").exists()


def test_wordnet_unreachable_says_how_to_fetch_it(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))
    monkeypatch.setattr(debian, "MIRROR", "http://127.0.0.1:9")
    monkeypatch.setenv("PATH", "")  # no apt-get either
    with pytest.raises(sources.SourceError, match="could not fetch the Debian package wordnet-base"):
        wordnet.data_dir()


def test_wordnet_ar_reader_finds_members():
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w"):
        pass
    member = b"abc"
    header = b"x.txt/".ljust(16) + b"0".ljust(12) + b"0".ljust(6) + b"0".ljust(6) + b"644".ljust(8) \
        + str(len(member)).encode().ljust(10) + b"`\n"
    assert debian.read_ar(b"!<arch>\n" + header + member + b"\n") == {"x.txt": b"abc"}


def test_choice_task_holds_the_right_definition_among_four():
    task = tasks.load("choice")
    by_word = {}
    for s in wordnet.synsets():
        by_word.setdefault(s.words[0], set()).add(s.definition)
    for e in task.test[:300]:
        assert len(e["choices"]) == 4 and len(set(e["choices"])) == 4
        assert e["choices"][e["label"]] in by_word[e["prompt"]]
    labels = [e["label"] for e in task.train]
    assert min(labels.count(k) for k in range(4)) > len(labels) / 5  # the answer is not always first


def test_qa_answers_point_into_their_context_and_some_have_none():
    task = tasks.load("qa")
    unanswerable = 0
    for e in task.validation:
        if e["answers"]:
            start = e["answer_start"]
            assert e["context"][start:start + len(e["answers"][0])] == e["answers"][0]
        else:
            unanswerable += 1
    assert 0.1 < unanswerable / len(task.validation) < 0.3
    train_questions = {e["question"] for e in task.train}
    assert len({e["question"] for e in task.test} & train_questions) < len(task.test) / 20


def test_bad_examples_give_clear_errors():
    with pytest.raises(ValueError, match="empty text"):
        tasks.check_example({"text": "  ", "label": "fresh"}, "sequence", ["fresh", "rotten"])
    with pytest.raises(ValueError, match="not in the label set"):
        tasks.check_example({"text": "fine", "label": "meh"}, "sequence", ["fresh", "rotten"])
    with pytest.raises(ValueError, match="one tag per word"):
        tasks.check_example({"words": ["a", "b"], "tags": ["O"]}, "token", ["O"])
    with pytest.raises(ValueError, match="does not point at the answer"):
        tasks.check_example({"question": "q", "context": "abc", "answers": ["b"], "answer_start": 0}, "qa", [])
    with pytest.raises(ValueError, match="unknown task"):
        tasks.load("squad")


def test_a_csv_without_the_named_column_says_which_columns_it_has(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("review,stars\ngreat,5\n")
    with pytest.raises(ValueError, match=r"no column named 'text'.*\['review', 'stars'\]"):
        tasks.from_file(path)


def test_users_csv_and_jsonl_become_split_tasks(tmp_path):
    rows = [(f"review number {i}", "good" if i % 2 else "bad") for i in range(20)]
    csv_path = tmp_path / "reviews.csv"
    csv_path.write_text("review,stars\n" + "".join(f"{t},{y}\n" for t, y in rows))
    task = tasks.from_file(csv_path, text_column="review", label_column="stars")
    assert task.labels == ["bad", "good"]
    assert (len(task.train), len(task.validation), len(task.test)) == (16, 2, 2)

    jsonl = tmp_path / "words.jsonl"
    jsonl.write_text("".join(json.dumps({"words": ["hi", "there"], "tags": ["O", "PERIOD"]}) + "\n" for _ in range(10)))
    assert tasks.from_file(jsonl, kind="token").labels == ["O", "PERIOD"]

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "", "label": "x"}) + "\n")
    with pytest.raises(ValueError, match="empty text"):
        tasks.from_file(bad)


def test_the_data_set_class_keeps_its_old_name():
    from minidistil.data import tasks
    assert tasks.Task is tasks.TaskData
