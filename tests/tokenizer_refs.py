"""What the tokenizer API and row tests share (the fixtures `rust` and `legacy` are in conftest)."""
import json


def plain(encoding):
    """HF encodings hold tuples, tensors or lists; compare as plain nested lists."""
    out = {}
    for key, value in encoding.items():
        value = value.tolist() if hasattr(value, "tolist") else value
        out[key] = json.loads(json.dumps(value))  # tuples -> lists
    return out


CONTEXT = ("The Eiffel Tower, completed in 1889, is 330 metres tall. Gustave Eiffel's company "
           "designed and built it; critics called it an eyesore. Today ~7 million people visit.")
QUESTION = "Who built the tower?"
