"""Convert and check checkpoints. The logic lives in minidistil/apps/convert.py; this is the command line.

    python weights_convert.py bert-to-distilbert TEACHER_DIR out/teacher        # BERT folder -> DistilBERT folder
    python weights_convert.py extract-student out/teacher out/student --layers 0,2,5
    python weights_convert.py bin-to-safetensors FOLDER                          # beside pytorch_model.bin
    python weights_convert.py check out/student --tol 1e-4                      # PASS / FAIL vs transformers

TEACHER_DIR is `python -c "from minidistil.data import sources; print(sources.teacher_dir())"`. Folders
written here hold the model and the source folder's tokenizer files, so pipeline() loads them.
"""
import sys

from minidistil.cli.weights import main  # the parser lives with the rest of the command line

if __name__ == "__main__":
    sys.exit(main())
