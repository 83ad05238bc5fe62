"""minidistil: DistilBERT rebuilt from scratch in plain PyTorch.

The folders are the layers, bottom to top; each imports only from the ones below it:

    utils/      the data cache and its build locks, file replacement, metrics, BLEU/chrF, plots
    tokenizer/  WordPiece: BERT's basic tokenizer, greedy WordPiece, vocabulary training
    nn/         the model: config, encoder, heads, decoder, encoder-decoder, generation, model folders
    data/       registry sources, corpora, parallel pairs, tasks and their kinds, batching, masking
    training/   the training loop, MLM, distillation, fine-tuning, translation training
    recipes/    the default models built once per machine, and `pretrained`, their public face
    apps/       pipelines, Hugging Face conversion, ONNX export, int8 quantization
    cli/        `python -m minidistil`

Old import paths (`minidistil.teacher`, `minidistil.sources`, ...) still work through the table in
`minidistil._moved`, with a DeprecationWarning naming the new path.
"""
from minidistil.utils import interrupts as _interrupts
_interrupts.on_import()  # first: Ctrl-C while torch loads is one line at the command line, not a traceback

from minidistil import _moved  # noqa: E402

_moved.install()
from minidistil.nn.config import DistilBertConfig
from minidistil.nn.model import DistilBertModel
from minidistil.nn.heads import (DistilBertForMaskedLM, DistilBertForMultipleChoice, DistilBertForQuestionAnswering,
                    DistilBertForSequenceClassification, DistilBertForTokenClassification)
from minidistil.tokenizer import WordPieceTokenizer
from minidistil.training.train import TrainConfig, train
from minidistil.apps.pipelines import pipeline
from minidistil.apps import quantize  # noqa: F401,E402 (registers the int8 folder format with checkpoint)

__all__ = ["DistilBertConfig", "DistilBertModel", "DistilBertForMaskedLM", "DistilBertForSequenceClassification",
           "DistilBertForTokenClassification", "DistilBertForQuestionAnswering", "DistilBertForMultipleChoice",
           "WordPieceTokenizer", "TrainConfig", "train", "pipeline"]


def __getattr__(name):
    return _moved.package_getattr(name)
