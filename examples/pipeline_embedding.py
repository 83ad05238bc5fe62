"""The embedding pipeline: sentence vectors from all-MiniLM-L6-v2, and a similarity table.

    python examples/pipeline_embedding.py                 # ~30 s

Each text becomes the mean of its token vectors over the attention mask, L2-normalised: the
recipe of sentence-transformers for this model, so these are its embeddings (the tests check it
against transformers' BertModel). Dot products are then cosine similarities.
"""
import minidistil
from minidistil.data import sources

embed = minidistil.pipeline("embedding", model=sources.teacher_dir())
texts = ["The striker scored twice in the final.", "A late goal won the cup for the home side.",
         "Shares fell after the bank's profit warning.", "Investors sold the stock on weak results.",
         "The new phone has a larger screen."]
vectors = embed(texts)  # (N, C), unit rows
similarity = vectors @ vectors.T
print(f"embeddings: {tuple(vectors.shape)}, norms {vectors.norm(dim=-1).min():.4f}..{vectors.norm(dim=-1).max():.4f}\n")
print("     " + "".join(f"{j:>7}" for j in range(len(texts))))
for i, row in enumerate(similarity):
    print(f"{i:>5}" + "".join(f"{v:>7.3f}" for v in row.tolist()) + f"   {texts[i]}")
