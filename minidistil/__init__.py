"""minidistil: DistilBERT rebuilt from scratch in plain PyTorch."""
from . import interrupts as _interrupts
_interrupts.on_import()  # first: Ctrl-C while torch loads is one line at the command line, not a traceback

from .config import DistilBertConfig
from .model import DistilBertModel
from .heads import (DistilBertForMaskedLM, DistilBertForMultipleChoice, DistilBertForQuestionAnswering,
                    DistilBertForSequenceClassification, DistilBertForTokenClassification)
from .tokenizer import WordPieceTokenizer
from .train import TrainConfig, train
from .pipelines import pipeline
from . import quantize  # noqa: F401,E402 (registers the int8 folder format with checkpoint)

__all__ = ["DistilBertConfig", "DistilBertModel", "DistilBertForMaskedLM", "DistilBertForSequenceClassification",
           "DistilBertForTokenClassification", "DistilBertForQuestionAnswering", "DistilBertForMultipleChoice",
           "WordPieceTokenizer", "TrainConfig", "train", "pipeline"]
