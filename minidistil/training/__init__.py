"""The training floor: the training loop and its checkpoints, MLM, the distillation losses' task and the
student's initialisation, stored teacher outputs, fine-tuning, translation training, the cloze test.
Imports the floors below it (utils, tokenizer, nn, data).
"""
