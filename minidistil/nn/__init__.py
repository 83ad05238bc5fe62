"""The model floor: configuration, the DistilBERT encoder (attention, GELU feed-forward, LayerNorm,
post-LN blocks), every Hugging Face head, the BERT-style decoder with cross-attention, the
encoder-decoder, generation, the losses the heads compute, and reading/writing model folders.
Imports only `minidistil.utils` and `minidistil.tokenizer`.
"""
