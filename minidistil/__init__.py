"""minidistil: DistilBERT rebuilt from scratch in plain PyTorch."""
