"""minidistil: DistilBERT rebuilt from scratch in plain PyTorch."""
from .tokenizer import WordPieceTokenizer
