# sgconv: the two quick-start commands and the pieces they are made of.
#   make main   set everything up (.venv) and run the main job
#   make test   set everything up (.venv) and run every test (nbdev_test, pytest, export and clean checks)
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.sgconv-installed
# the main job: the `small` ListOps comparison of SGConv, the Transformer and S4D (about 15 minutes on 2 cores)
MAIN_ARGS ?= --task listops --model sgconv,transformer,s4d --preset small
MAIN_OUT ?= runs/main

.PHONY: main test install demo lra check-export nbtest pytest docs bench speech vision

SYSTEM_STAMP := $(VENV)/.sgconv-system

$(SYSTEM_STAMP): tools/setup_system.sh
	@bash tools/setup_system.sh
	@mkdir -p $(VENV) && touch $(SYSTEM_STAMP)

$(STAMP): settings.ini setup.py $(SYSTEM_STAMP)
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

main: $(STAMP)
	$(PY) -m sgconv.train $(MAIN_ARGS) --out $(MAIN_OUT) --results $(MAIN_OUT)/results.md $(MAIN_OUT)/results.json

demo: $(STAMP)
	$(PY) -m sgconv.demo

# the small speech comparison (Table 3's raw-audio columns, 8 kHz zero-shot included; the synthetic corpus is made on first use)
speech: $(STAMP)
	$(PY) -m sgconv.train --task sc10-raw --model sgconv,s4d --preset small --out runs/speech --results runs/speech/results.md runs/speech/results.json

# the small SGConvNeXt comparison on Fashion-MNIST
vision: $(STAMP)
	$(PY) -m sgconv.train --task fmnist --model sgconvnext-atto,convnext-atto --preset small --out runs/vision --results runs/vision/results.md runs/vision/results.json

# nbdev_export must leave sgconv/ unchanged, and nbdev_clean must leave the notebooks unchanged
check-export: $(STAMP)
	@before=$$(find sgconv nbs -type f \( -name '*.py' -o -name '*.ipynb' \) -not -path '*/.ipynb_checkpoints/*' | sort | xargs sha256sum); \
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean >/dev/null; \
	after=$$(find sgconv nbs -type f \( -name '*.py' -o -name '*.ipynb' \) -not -path '*/.ipynb_checkpoints/*' | sort | xargs sha256sum); \
	if [ "$$before" != "$$after" ]; then \
	  echo "FAILED: nbdev_export/nbdev_clean changed these files; run them and commit:"; \
	  diff <(echo "$$before") <(echo "$$after") | grep '^[<>]' | awk '{print $$3}' | sort -u; exit 1; \
	else echo "nbdev_export and nbdev_clean: in sync"; fi

# two notebooks at a time with one torch thread each: no oversubscription on two cores
nbtest: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers 2 --do_print

pytest: $(STAMP)
	$(PY) -m pytest -q tests

test: $(STAMP)
	$(MAKE) --no-print-directory check-export
	$(MAKE) --no-print-directory nbtest
	$(MAKE) --no-print-directory pytest

docs: $(STAMP)
	@bash tools/setup_system.sh --docs
	@if command -v chromium >/dev/null; then $(PY) tools/render_docs.py --screenshots; \
	else echo "no chromium (install it as root: apt-get install chromium): rendering the pages without screenshots"; $(PY) tools/render_docs.py; fi
