"""The World English Bible out of Debian's SWORD module: markup removed, verses where they belong."""
from minidistil.data import debian, sources, sword


def test_osis_markup_and_notes_are_removed_without_gluing_words():
    osis = ('<w lemma="strong:H0430">God</w><note placement="foot"><reference>1:1 </reference>The Hebrew '
            'word</note><w lemma="strong:H1254">created</w> <w>light</w><note>x</note>, &amp; more.')
    assert sword.verse_text(osis) == "God created light, & more."


def test_known_verses_are_read_in_order():
    books = sword.read_books(debian.unpack(debian.PACKAGES["sword-text-web"]))
    verses = [v for book in books for v in book]
    genesis = next(i for i, v in enumerate(verses) if v.startswith("In the beginning, God created the heavens and the earth."))
    assert verses[genesis + 1].startswith("The earth was formless and empty.")
    assert "Jesus wept." in verses  # John 11:35, the shortest verse
    assert not any("<" in v or "strong:" in v for v in verses)


def test_the_bible_and_the_novels_are_registry_corpora():
    bible = sources.corpus(("bible",))
    assert any("Jesus wept." in doc for doc in bible)
    austen = sources.corpus(("austen",))
    assert len(austen) == 270  # 269 chapters and Northanger Abbey's advertisement by the author
    assert any(doc.startswith("It is a truth universally acknowledged") for doc in austen)
