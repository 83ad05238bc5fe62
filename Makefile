# minidistil: every entry point sets up what it needs first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test demo reproduce bench clean

install: $(STAMP)

# torch goes in first, pinned: the CPU build of 2.13 is on local disk, and a bare `torch`
# requirement would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev,plot]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q

demo: install
	$(BIN)/python examples/demo.py

# The ablation with every distillation cut to 600 steps (a quarter of the default student's budget)
# to fit in under 3 hours on 2 cores; `python examples/ablation.py` runs the whole budget (about 6.5 h).
reproduce: install
	$(BIN)/python examples/ablation.py --distill-steps 600

bench: install
	$(BIN)/python bench/model.py
	$(BIN)/python bench/tokenizer.py
	$(BIN)/python bench/train.py
	$(BIN)/python bench/pipeline.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
