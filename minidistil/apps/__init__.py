"""The applications on top of trained models: pipelines, Hugging Face conversion, ONNX export and int8
quantization. Imports every floor below; only the command line and the package face import it.
"""
