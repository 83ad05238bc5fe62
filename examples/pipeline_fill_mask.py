"""The fill-mask pipeline on the teacher: real held-out sentences with one word masked.

    python examples/pipeline_fill_mask.py                      # the default teacher (built once, ~20 min)
    python examples/pipeline_fill_mask.py --model runs/demo/distill/model --items 300   # the student

all-MiniLM-L6-v2 ships without an MLM head; the default teacher is that encoder further pretrained
with MLM (`python -m minidistil adapt-teacher`), so its guesses come from reading the sentence.
Prints a few sentences the teacher never trained on, each with its top 5 completions, then the
fill-in-the-blank score on `--items` such sentences against always answering the 5 most frequent
answers (minidistil.training.cloze): once with any token as a guess, once with the guesses limited to the
kind of word the items ask for (lower-case words of 4+ letters, not function words), with
`targets`, as transformers' fill-mask pipeline takes them.
"""
from dataclasses import dataclass

import minidistil
from minidistil.training import cloze
from minidistil.recipes import pretrained, teacher
from minidistil.cli.flags import parse_settings
from minidistil.tokenizer import WordPieceTokenizer


@dataclass
class Settings:
    model: str = ""     # a model folder with an MLM head; "": the default teacher
    shown: int = 6      # sentences printed with their completions
    items: int = 300    # held-out sentences scored
    top_k: int = 5      # completions shown per [MASK]


args = parse_settings(Settings, __doc__)
folder = args.model or str(pretrained.teacher_dir())
_, heldout = teacher.documents(teacher.TeacherSettings())  # the documents the default teacher never read
vocab = WordPieceTokenizer.from_pretrained(folder).vocab
items = cloze.make_items(heldout, set(vocab), n=args.items, seed=0)
fill = minidistil.pipeline("fill-mask", model=folder, batch_size=64)
for item, found in zip(items[:args.shown], fill([i["text"] for i in items[:args.shown]], top_k=args.top_k)):
    print(f"{item['text']}\n  answer: {item['answer']}")
    for f in found:
        print(f"  {f['score']:.3f}  {f['token_str']}")
print(f"\n{len(items)} held-out sentences; always the 5 most frequent answers: top-5 "
      f"{cloze.baseline(items, 5):.3f}")
for name, candidates in (("any token", None), ("answer words only", cloze.answer_words(vocab))):
    scores = cloze.score(fill, items, candidates)
    print(f"{name:>17}: top-1 {scores['top1']:.3f}, top-5 {scores['top5']:.3f} "
          f"({scores['top5'] / max(scores['baseline_top5'], 1e-9):.1f}x the baseline)")
