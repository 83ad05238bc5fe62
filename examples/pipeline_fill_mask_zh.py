"""The fill-mask pipeline in Chinese: held-out sentences with one character masked.

    python examples/pipeline_fill_mask_zh.py                      # the Chinese teacher (built once)
    python examples/pipeline_fill_mask_zh.py --model "$(python -c 'from minidistil.recipes import chinese; print(chinese.student_dir())')"

Prints a few sentences the model never trained on (People's Daily paragraphs, reviews and proverbs
held out by `minidistil.recipes.chinese.documents`), each with its top 5 characters, then the same
sentence in traditional characters, then top-1 / top-5 over `--items` such masks beside always
answering the 5 most frequent characters of the training text.
"""
import random
from collections import Counter
from dataclasses import dataclass

import minidistil
from minidistil.recipes import chinese
from minidistil.cli.flags import parse_settings


@dataclass
class Settings:
    model: str = ""   # a Chinese model folder with an MLM head; "": chinese.teacher_dir()
    shown: int = 5    # sentences printed with their completions
    items: int = 300  # held-out masks scored
    top_k: int = 5    # completions shown per [MASK]
    seed: int = 0


args = parse_settings(Settings, __doc__)
folder = args.model or str(chinese.teacher_dir())
train_docs, heldout = chinese.documents(chinese.TEACHER)
rng = random.Random(args.seed)
items = []
for doc in rng.sample(heldout, len(heldout)):
    sentence = doc.split("\n")[0][:60]
    positions = [i for i, ch in enumerate(sentence) if chinese.is_cjk(ch)]
    if len(positions) >= 8:
        i = rng.choice(positions)
        items.append({"text": sentence[:i] + "[MASK]" + sentence[i + 1:], "answer": sentence[i]})
    if len(items) == args.items:
        break

fill = minidistil.pipeline("fill-mask", model=folder, batch_size=64)
for item, found in zip(items[:args.shown], fill([i["text"] for i in items[:args.shown]], top_k=args.top_k)):
    print(f"{item['text']}\n  answer: {item['answer']}   top {args.top_k}: "
          + "  ".join(f"{f['token_str']} {f['score']:.2f}" for f in found))
example = "這本書的內容很[MASK]，推薦購買！"
print(f"\ntraditional input: {example}\n  top {args.top_k}: "
      + "  ".join(f"{f['token_str']} {f['score']:.2f}" for f in fill(example, top_k=args.top_k)))
example = "Windows XP 系统运行很[MASK]，电池续航一般。"
print(f"mixed input: {example}\n  top {args.top_k}: "
      + "  ".join(f"{f['token_str']} {f['score']:.2f}" for f in fill(example, top_k=args.top_k)))

guesses = fill([i["text"] for i in items], top_k=5)
top1 = sum(g[0]["token_str"] == i["answer"] for g, i in zip(guesses, items)) / len(items)
top5 = sum(i["answer"] in {x["token_str"] for x in g} for g, i in zip(guesses, items)) / len(items)
frequent = [c for c, _ in Counter(ch for d in train_docs for ch in d if chinese.is_cjk(ch)).most_common(5)]
base1 = sum(i["answer"] == frequent[0] for i in items) / len(items)
base5 = sum(i["answer"] in frequent for i in items) / len(items)
print(f"\n{len(items)} held-out masked characters: model top-1 {top1:.3f}, top-5 {top5:.3f}; "
      f"always the 5 most frequent characters ({''.join(frequent)}): top-1 {base1:.3f}, top-5 {base5:.3f}")
