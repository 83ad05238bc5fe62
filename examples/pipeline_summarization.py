"""The summarization pipeline (extractive): the sentences closest to the article's centroid.

    python examples/pipeline_summarization.py             # ~1 min

The article is split into sentences; each is embedded with all-MiniLM-L6-v2 (mean pooling,
L2-normalised); the mean of those vectors is the article's centroid; the sentences most similar
to it are kept, in their original order (Radev et al. 2004's centroid method, with a neural
encoder in place of TF-IDF). Nothing is generated: every summary sentence is the article's own.
Prints the summaries of three BBC articles, with how much of the headline's wording they cover.
"""
from dataclasses import dataclass

import minidistil
from minidistil.utils import metrics
from minidistil.data import sources
from minidistil.cli.flags import parse_settings


@dataclass
class Settings:
    sentences: int = 2  # sentences kept per summary


args = parse_settings(Settings, __doc__)

summarize = minidistil.pipeline("summarization", model=sources.teacher_dir())
articles, topics = sources.bbc_news()
for n in (0, 600, 1500):
    headline, body = articles[n].split("\n", 1)
    result = summarize(body, num_sentences=args.sentences)
    recall = metrics.squad_f1(result["summary_text"], headline)
    print(f"[{topics[n]}] {headline}\n  sentences {result['sentences']}, headline-word F1 {recall:.3f}\n"
          f"  {result['summary_text']}\n")
