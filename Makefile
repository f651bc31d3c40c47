# Concilia: two commands for a newcomer.
#   make run    install what is missing, train the model if its inputs changed, start everything
#   make test   install what is missing and run every test tier
# Everything else here is what those two need; see README.md.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
RASA_VENV := .venv-rasa
GW_PY     := $(VENV)/bin/python
RASA_PY   := $(RASA_VENV)/bin/python
RASA      := $(RASA_VENV)/bin/rasa

KB_FILES   := $(shell find knowledge/data -name '*.yml' 2>/dev/null)
NLU_FILES  := $(filter-out nlu/data/generated_lookups.yml,$(wildcard nlu/data/*.yml))
MODEL_STAMP := models/.trained

.PHONY: help run test unit setup train lint kb-check clean

help:
	@echo "make run    set up and start Concilia (web chat at http://127.0.0.1:8080/ by default)"
	@echo "make test   set up and run every test tier"
	@echo "make unit   only the unit tests (tests/unit), in well under a minute"

setup: $(VENV)/.installed $(RASA_VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@echo "==> Gateway environment (Python 3.11+) in $(VENV)"
	@py=$$(scripts/find-python.sh gateway) && { [ -x $(GW_PY) ] || $$py -m venv $(VENV); }
	@$(GW_PY) -m pip install --disable-pip-version-check --progress-bar on -q -e '.[gateway,dev]'
	@touch $@

# Where no Python 3.10 is found, scripts/find-python.sh says which ways work; `make setup PYTHON310=uv`
# (or CONCILIA_USE_UV=1) installs it with uv, which needs the gateway environment first.
$(RASA_VENV)/.installed: requirements-rasa.txt | $(VENV)/.installed
	@echo "==> Rasa environment (Python 3.10) in $(RASA_VENV): the first time this takes a few minutes"
	@py=$$(scripts/find-python.sh rasa) && { [ -x $(RASA_PY) ] || $$py -m venv $(RASA_VENV); }
	@$(RASA_PY) -m pip install --disable-pip-version-check --progress-bar on -q -r requirements-rasa.txt
	@$(RASA_PY) -m pip install --disable-pip-version-check -q --no-deps --ignore-requires-python -e .
	@touch $@

# Town and area lookup tables are generated from the knowledge base, never written by hand. The file is
# rewritten only when its content changes, so editing a service does not retrain the model.
nlu/data/generated_lookups.yml: $(KB_FILES) $(VENV)/.installed
	@$(VENV)/bin/concilia kb check >/dev/null || { $(VENV)/bin/concilia kb check; exit 1; }
	@$(VENV)/bin/concilia kb lookups --out $@

# Retrain only when the pipeline, the domain, the training data or the knowledge base changed.
$(MODEL_STAMP): config.yml nlu/domain.yml $(NLU_FILES) nlu/data/generated_lookups.yml nlu/negatives/train.txt $(wildcard rasa_addons/*.py) $(RASA_VENV)/.installed
	@echo "==> Training the assistant (about a minute on 2 cores)"
	@mkdir -p models
	@start=$$(date +%s); \
	  TF_CPP_MIN_LOG_LEVEL=3 PYTHONWARNINGS=ignore $(RASA) train --quiet --config config.yml --domain nlu/domain.yml \
	    --data nlu/data --out models --fixed-model-name concilia --num-threads 2 && \
	  echo "trained in $$(( $$(date +%s) - start )) s" && touch $@

train: $(MODEL_STAMP)

kb-check: $(VENV)/.installed
	@$(VENV)/bin/concilia kb check

run: setup $(MODEL_STAMP)
	@scripts/run.sh

test: setup $(MODEL_STAMP)
	@scripts/test.sh

# The unit tests alone: no network, no subprocess, no model; the gateway environment only.
unit: $(VENV)/.installed
	@PYTHONPATH=$(CURDIR) $(GW_PY) -m pytest -q -p no:cacheprovider tests/unit

lint: $(VENV)/.installed
	@$(VENV)/bin/ruff check bot knowledge actions rasa_addons harness tests bench scripts
	@$(GW_PY) -m mypy
	@$(GW_PY) -m mypy --python-version 3.10 knowledge

clean:
	rm -rf models results var
