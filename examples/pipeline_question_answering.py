"""The question-answering pipeline: windows over a long context, the best span, "no answer".

    python examples/finetune_qa.py                        # first: the model, in runs/qa/model
    python examples/pipeline_question_answering.py        # ~1 min

The context below is a few hundred tokens; with --max-seq-len 96 it is read in overlapping
windows (doc stride 32), and the best-scoring span over all windows is the answer. Also prints
exact match and F1 on 200 test questions of the WordNet QA task.
"""
from dataclasses import dataclass
import warnings
from pathlib import Path

import minidistil
from minidistil.utils import metrics
from minidistil.data import tasks
from minidistil.cli.flags import parse_settings


@dataclass
class Settings:
    model: str = "runs/qa/model"  # the model folder
    max_seq_len: int = 96  # tokens per window


args = parse_settings(Settings, __doc__)
if not (Path(args.model) / "config.json").exists():
    raise SystemExit(f"no model in {args.model}; run examples/finetune_qa.py first")

qa = minidistil.pipeline("question-answering", model=args.model)
task = tasks.load("qa")
long_context = " ".join(e["context"] for e in task.test[:6])
question = next(e for e in task.test[:6][::-1] if e["answers"])
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the window warning is the point of this example
    answer = qa(question["question"], long_context, max_seq_len=args.max_seq_len, doc_stride=32,
                handle_impossible_answer=True)
print(f"question: {question['question']}\ngold: {question['answers']}  predicted: {answer}\n")

sample = task.test[:200]
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    found = qa([e["question"] for e in sample], [e["context"] for e in sample], handle_impossible_answer=True,
               max_seq_len=128, doc_stride=32)
scores = metrics.squad_scores([a["answer"] for a in found], [e["answers"] for e in sample])
print(f"{'questions':>10}{'exact match':>13}{'F1':>8}\n{len(sample):>10}{scores['exact_match']:>13.4f}{scores['f1']:>8.4f}")
