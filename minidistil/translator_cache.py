"""Old home of the cached translators: they live in `minidistil.pretrained` now."""
from minidistil.pretrained import translator_dir, translator_folders  # noqa: F401
