# The two commands of the README: `make book` and `make test`. Each creates .venv from
# pyproject.toml on first use (and again whenever pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
JBFLAGS ?= -n -W --keep-going

.PHONY: book test bench check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[book,test]"
	touch $(STAMP)

book: $(STAMP)
	RNNPROOF_CHECK_CACHE=$(CURDIR)/_build/.checks $(VENV)/bin/jupyter-book build . $(JBFLAGS)

test: $(STAMP)
	$(PY) -m pytest -n 2 -q

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) -m benchmarks

check: $(STAMP)
	$(PY) -m rnnproof check

clean:
	rm -rf _build
