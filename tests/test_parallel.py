"""The Chinese-English pairs: aligner, cleaning rules, split by source, cache, Debian unpacking.
Every input is written here by hand; nothing is fetched."""
import hashlib
import io
import json
import lzma
import shutil
import tarfile
import urllib.error
import urllib.request

import pytest

from minidistil.utils import builds

from minidistil.utils.cache import SourceError
from minidistil.data import parallel
from minidistil.data.parallel import DebPackage, align_help_page, build_splits, clean_pair, html_paragraphs

PAGE = """<html><body><div id="DisplayArea">
<h1 id="hd_id3152887" dir="auto"><a name="x"></a>{title}</h1>
<p id="par_id3154254" class="paragraph">{body}</p>
<p id="par_id3155576" class="listitem">{menu}</p>
<p id="par_id31002" class="paragraph">{untranslated}</p>
<p id="par_id31003" class="code">first line<br>second line</p>
{extra}
<p class="related">no id: never aligned</p>
</div></body></html>"""
EN = PAGE.format(
    title="Adding Exceptions to the AutoCorrect List",
    body="You can prevent AutoCorrect from correcting <span class=\"emph\">specific</span> abbreviations &amp; words.",
    menu='Press <span class="switchinline"><span hidden="true" id="MACx_1" class="MAC">Command</span>'
         '<span hidden="true" id="defaultx_1">Ctrl</span></span>+Z to undo the last replacement quickly.',
    untranslated="This paragraph was never translated at all.",
    extra='<p id="par_id99" class="paragraph">Only the English page has this paragraph here.</p>')
ZH = PAGE.format(
    title="将例外情况加入自动更正列表",
    body="您可以防止「自动更正」校正那些<span class=\"emph\">特定</span>缩写&amp;文字。",
    menu='按<span class="switchinline"><span hidden="true" id="MACx_1" class="MAC">命令</span>'
         '<span hidden="true" id="defaultx_1">Ctrl</span></span>+Z 键可以快速撤消替换。',
    untranslated="This paragraph was never translated at all.",
    extra="")


def test_paragraphs_are_read_by_id_with_markup_stripped_and_the_default_key_kept():
    en = html_paragraphs(EN)
    assert list(en) == ["hd_id3152887", "par_id3154254", "par_id3155576", "par_id31002", "par_id31003", "par_id99"]
    assert en["par_id3154254"] == "You can prevent AutoCorrect from correcting specific abbreviations & words."
    assert en["par_id3155576"] == "Press Ctrl+Z to undo the last replacement quickly."  # not "CommandCtrl"
    assert en["par_id31003"] == "first line\nsecond line"


def test_pages_align_on_shared_ids_and_skip_untranslated_paragraphs():
    aligned = {pid: (zh, en) for pid, zh, en in align_help_page(ZH, EN)}
    assert "par_id99" not in aligned  # an id missing from the Chinese page is skipped
    assert "par_id31002" not in aligned and "par_id31003" not in aligned  # the same text on both pages
    assert aligned["par_id3155576"] == ("按Ctrl+Z 键可以快速撤消替换。", "Press Ctrl+Z to undo the last replacement quickly.")
    kept = {pid: clean_pair(zh, en) for pid, (zh, en) in aligned.items()}
    assert kept["hd_id3152887"] == ("将例外情况加入自动更正列表", "Adding Exceptions to the AutoCorrect List")


@pytest.mark.parametrize("zh,en,expected", [
    ("另存为(_A)…", "Save the document _As a new file…", ("另存为…", "Save the document As a new file…")),
    ("保存文档(~S)", "~Save the current document now", ("保存文档", "Save the current document now")),
    ("保存（_S）当前文档", "_Save the file_name field", ("保存当前文档", "Save the file_name field")),
    ("无法打开 %s：%s", "cannot open %s: %s", None),                    # 2 words once %s are gone
    ("%1$s 的 %2$d 个 {0} 无效", "%1$s has %2$d invalid {0}", None),     # 3 words
    ("无法打开 %s 进行读取", "cannot open %s for reading", ("无法打开 %s 进行读取", "cannot open %s for reading")),
    ("Specifies the page name.", "Specifies the page name.", None),   # untranslated
    ("返回 Bessel 函数值 Jn(x)", "Returns the Bessel function Jn(x)", None),  # more Latin than Chinese
    ("第一行\n第二行", "the first line\nand the second line", None),  # a multi-line block
    ("不显示预登录消息文件", " -i, --noissue      do not display issue file", None),  # a --help table row
    ("不显示预登录消息文件", "-i, --noissue      do not display issue file", None),
    ("警告：用户标识被截断。  这可能有安全隐患。", "warning: uids truncated.  This may be a security concern.",
     ("警告：用户标识被截断。 这可能有安全隐患。", "warning: uids truncated. This may be a security concern.")),
])
def test_cleaning_rules(zh, en, expected):
    assert clean_pair(zh, en) == expected


def record(source, en, zh="打开所选的文件以便编辑"):
    return {"zh": zh, "en": en, "source": source}


def test_split_holds_out_whole_sources_and_deduplicates_by_normalised_english():
    test_source, validation_source = parallel.TEST_SOURCES[0], parallel.VALIDATION_SOURCES[0]
    records = [
        record("ui/train-catalogue", "Open the selected file for editing."),
        record("help/shared", "open the  selected file for editing"),        # same normalised English
        record("help/shared", "Cannot open the file %s right now."),           # near-duplicate of a test one
        record(test_source, "Cannot open the file {0} right now"),
        record(test_source, "Close every window of the current document."),
        record(validation_source, "Print the current page of the document."),
        record("gnu/coreutils", "too short"),
    ]
    splits, counts = build_splits(records)
    assert [r["en"] for r in splits["train"]] == ["Open the selected file for editing."]  # first one wins
    assert {r["source"] for r in splits["test"]} == {test_source} and len(splits["test"]) == 2
    assert [r["en"] for r in splits["validation"]] == ["Print the current page of the document."]
    assert counts["duplicate"]["help/shared"] == 1 and counts["near_duplicate_of_held_out"] == 1
    assert counts["raw"]["gnu/coreutils"] == 1 and counts["clean"]["gnu/coreutils"] == 0
    assert not set(parallel.TEST_SOURCES) & set(parallel.VALIDATION_SOURCES)


def test_pairs_are_built_once_into_the_cache_with_their_counts(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))
    monkeypatch.setattr(parallel, "raw_pairs", lambda: iter([
        record("help/shared", "Open the selected file for editing."),
        record(parallel.TEST_SOURCES[0], "Close every window of the current document.", "关闭当前文档的所有窗口。"),
        record(parallel.VALIDATION_SOURCES[0], "Print the current page of the document."),
    ]))
    test = parallel.pairs("test")
    assert test == [{"zh": "关闭当前文档的所有窗口。", "en": "Close every window of the current document.",
                     "source": parallel.TEST_SOURCES[0]}]
    folder = parallel.pairs_dir()
    assert folder.name == f"parallel-zh-en-{parallel.cache_key()}"
    assert sorted(p.name for p in folder.iterdir()) == ["counts.json", "manifest.json", "test.jsonl", "train.jsonl",
                                                        "validation.jsonl"]
    counts = json.loads((folder / "counts.json").read_text())
    assert counts["splits"] == {"train": 1, "validation": 1, "test": 1}
    assert counts["kinds"]["help"] == {"train": 1, "validation": 1, "test": 1} and counts["clean"]["help/shared"] == 1
    monkeypatch.setattr(parallel, "raw_pairs", lambda: pytest.fail("the cache was not used"))
    assert parallel.chinese_texts() == ["打开所选的文件以便编辑"]
    with pytest.raises(ValueError, match="training split only"):
        parallel.chinese_texts("test")
    with pytest.raises(ValueError, match="split must be one of"):
        parallel.pairs("dev")


def test_mo_catalogues_give_msgstr_and_singular_msgid(tmp_path):
    from test_gettext_mo import write_mo
    path = tmp_path / "demo.mo"
    path.write_bytes(write_mo({b"": b"Content-Type: text/plain; charset=UTF-8\n",
                               "menu\x04Open the file".encode(): "打开文件".encode(),
                               b"%d file\x00%d files": "%d 个文件".encode(),
                               b"untranslated": b""}))
    assert list(parallel.mo_pairs(path, "gnu/demo")) == [
        {"zh": "%d 个文件", "en": "%d file", "source": "gnu/demo"},
        {"zh": "打开文件", "en": "Open the file", "source": "gnu/demo"}]


# ---------------------------------------------------------------- Debian packages, by hand

def fake_deb(files: dict[str, bytes]) -> bytes:
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo("./" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    members = {"debian-binary": b"2.0\n", "control.tar.xz": lzma.compress(b""),
               "data.tar.xz": lzma.compress(tar_bytes.getvalue())}
    out = b"!<arch>\n"
    for name, data in members.items():
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode() + data
        out += b"\n" if len(data) % 2 else b""
    return out


def package(deb: bytes, pool="pool/main/d/demo/demo_1.0-1+deb12u3_all.deb") -> DebPackage:
    return DebPackage("demo", "1:1.0-1+deb12u3", hashlib.sha256(deb).hexdigest(), pool,
                      ("usr/share/locale/zh_CN/LC_MESSAGES/*.mo",), "GPL")


def test_unpack_copies_only_the_files_its_glob_matches(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))
    deb = fake_deb({"usr/share/locale/zh_CN/LC_MESSAGES/a.mo": b"A", "usr/share/locale/zh_CN/LC_MESSAGES/b.mo": b"B",
                    "usr/share/locale/de/LC_MESSAGES/a.mo": b"D", "usr/bin/demo": b"#!"})
    pkg = package(deb)
    (tmp_path / pkg.folder_name).mkdir()
    (tmp_path / pkg.folder_name / "demo_1.0-1+deb12u3_all.deb").write_bytes(deb)  # placed by hand
    folder = parallel.unpack(pkg)
    found = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.suffix == ".mo")
    assert found == ["usr/share/locale/zh_CN/LC_MESSAGES/a.mo", "usr/share/locale/zh_CN/LC_MESSAGES/b.mo"]
    builds.verify(folder)  # a manifest covers every unpacked file: raises if one is missing or differs
    assert "usr/share/locale/zh_CN/LC_MESSAGES/a.mo" in (folder / "manifest.json").read_text()


def test_a_deb_with_another_hash_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))
    pkg = package(b"pinned bytes")
    (tmp_path / pkg.folder_name).mkdir()
    (tmp_path / pkg.folder_name / "demo_1.0-1+deb12u3_all.deb").write_bytes(fake_deb({}))
    with pytest.raises(SourceError, match="is pinned to"):
        parallel.unpack(pkg)


@pytest.mark.parametrize("pool", ["pool/main/d/demo/demo_1.0-1+deb12u3_all.deb",
                                  "pool/updates/main/d/demo/demo_1.0-1+deb12u3_all.deb"])
def test_a_pinned_file_gone_from_the_mirror_says_what_to_do_in_one_sentence(tmp_path, monkeypatch, pool):
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))

    def gone(url, timeout=None):
        raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
    monkeypatch.setattr(urllib.request, "urlopen", gone)
    monkeypatch.setattr(shutil, "which", lambda name: None)  # no apt-get to fall back on
    with pytest.raises(SourceError) as caught:
        parallel.unpack(package(b"anything", pool))
    message = str(caught.value)
    assert "demo 1:1.0-1+deb12u3" in message and "+debNuM" in message
    assert "MINIDISTIL_DEBIAN_MIRROR" in message and "snapshot.debian.org" in message
    assert f"place demo_1.0-1+deb12u3_all.deb in {tmp_path / 'demo-1.0-1+deb12u3'} by hand" in message
    assert message.replace("e.g. ", "").count(". ") == 0  # one sentence
