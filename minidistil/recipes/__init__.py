"""The recipes that build the default models once per machine (English teacher and student, Chinese
encoder and student, translators) into the data cache, and `pretrained`, their one public face.
Imports every floor below; nothing below imports it.
"""
