"""The translation pipeline: transformers' call shape over a translator folder.

    >>> translate = pipeline("translation_zh_to_en", model=pretrained.translator_dir())
    >>> translate(["打开文件"])
    [{'translation_text': 'Open file'}]

It is registered in `minidistil.apps.pipelines` like every other pipeline, under transformers' task
name; a translator folder keeps two tokenizers (source and target), which it reads itself.
"""
from __future__ import annotations

from pathlib import Path

from minidistil.data.english import TRUECASE_FILE, Truecaser
from minidistil.nn.generation_config import FILE as GENERATION_FILE
from minidistil.nn.seq2seq import DistilBertEncoderDecoder, load_tokenizers
from minidistil.tokenizer.api import read_json
from minidistil.training.translate import translate_texts, translator_generation_config

TASK = "translation_zh_to_en"  # transformers' name for the task


class TranslationPipeline:
    """transformers' translation pipeline call shape: `pipe("…")` or `pipe([...], num_beams=4,
    max_length=64, batch_size=8)` -> `[{"translation_text": "…"}, ...]`. `model` is a translator
    folder, or a loaded DistilBertEncoderDecoder with `tokenizers=(source, target)`.

    The decoding settings not given to a call come from the folder's generation_config.json (beam size,
    length penalty, length limit, no 3-gram twice). Long texts are translated sentence by sentence.
    `return_scores=True` adds each translation's mean token log-probability (`score`): near 0 the model
    was sure of every word; below about -1 the word-by-word dictionary does better on most sentences (README).
    `fallback_below`: a score; a translation scoring below it is replaced by the word-by-word dictionary's
    (`minidistil.data.cedict`), marked `"fallback": "dictionary"` in the output, so that a guess is never
    passed off as a translation.
    `attention_png`: a path, to draw the cross-attention of the first text (source characters x
    English words, `minidistil.apps.cross_attention`)."""

    task = TASK

    def __init__(self, model, tokenizers=None, batch_size: int = 8, max_length: int | None = None,
                 device: str = "cpu"):
        self.defaults, self.truecase, self.dictionary = {}, None, None
        if isinstance(model, (str, Path)):
            folder = Path(model)
            model = DistilBertEncoderDecoder.from_pretrained(folder)
            tokenizers = tokenizers or load_tokenizers(folder)
            if (folder / "translator.json").is_file():
                self.defaults = read_json(folder / "translator.json")
                if not (folder / GENERATION_FILE).is_file():  # built before the file existed
                    model.generation_config = translator_generation_config(model, self.defaults)
            if (folder / TRUECASE_FILE).is_file():
                self.truecase = Truecaser.load(folder / TRUECASE_FILE)
        if not isinstance(model, DistilBertEncoderDecoder) or tokenizers is None:
            raise ValueError("pass a translator folder, or a DistilBertEncoderDecoder with tokenizers=(source, target)")
        self.model = model.to(device).eval()
        self.source_tokenizer, self.target_tokenizer = tokenizers
        self.batch_size, self.max_length = batch_size, max_length

    @classmethod
    def from_folder(cls, model_class, folder, tokenizer=None, batch_size=8, max_length=None):
        """`minidistil.pipeline("translation_zh_to_en", model=folder)`: the folder's own two tokenizers."""
        return cls(folder, tokenizer, batch_size, max_length)

    def __call__(self, texts, num_beams: int | None = None, max_length: int | None = None,
                 batch_size: int | None = None, return_scores: bool = False, attention_png=None,
                 fallback_below: float | None = None, **settings) -> list[dict]:
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, (list, tuple)):
            raise TypeError(f"translate a string or a list of strings, got {type(texts).__name__}")
        for n, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"translate a string or a list of strings, but item {n} of the list is "
                                f"{type(text).__name__} {text!r:.40}")
        # `is None`, not `or`: num_beams=0 is a mistake to report, not a request for the default.
        settings = {**settings, "num_beams": num_beams,
                    "max_length": self.max_length if max_length is None else max_length}
        outputs = translate_texts(self.model, self.source_tokenizer, self.target_tokenizer, list(texts),
                                  batch_size=self.batch_size if batch_size is None else batch_size,
                                  max_source_length=self.defaults.get("max_source_length"), truecase=self.truecase,
                                  with_scores=True, **settings)
        if attention_png is not None and texts:
            from minidistil.apps.cross_attention import plot_translation_attention
            plot_translation_attention(self.model, self.source_tokenizer, self.target_tokenizer, texts[0],
                                       attention_png, **settings)
        results = [{"translation_text": text, "score": round(score, 4)} for text, score in outputs]
        if fallback_below is not None:
            self._fall_back(texts, results, fallback_below)
        if not return_scores:
            for result in results:
                del result["score"]
        return results

    def _fall_back(self, texts, results: list[dict], below: float) -> None:
        """The dictionary's word-by-word English for every text whose translation scored below `below`."""
        if isinstance(below, bool) or not isinstance(below, (int, float)) or below != below:
            raise TypeError(f"fallback_below must be a number (a mean token log-probability such as -1.0), got {below!r}")
        if self.dictionary is None:
            from minidistil.data import cedict  # read once per pipeline, and only when asked for
            self.dictionary = cedict.WordByWord(cedict.load())
        for text, result in zip(texts, results):
            if result["score"] < below:
                result.update(translation_text=self.dictionary(text), fallback="dictionary")
