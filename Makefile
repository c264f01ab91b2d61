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

# The notebook cache and Sphinx's doctrees are keyed on the chapters' source; when the package
# changes, drop them so that every chapter re-executes against the new code.
book: $(STAMP)
	@h=$$(cat rnnproof/*.py rnnproof/checks/*.py | sha256sum | cut -c1-16); \
	if [ "$$(cat _build/.package-hash 2>/dev/null)" != "$$h" ]; then \
	  rm -rf _build/.jupyter_cache _build/.checks _build/.doctrees; fi; \
	mkdir -p _build && echo "$$h" > _build/.package-hash
	RNNPROOF_CHECK_CACHE=$(CURDIR)/_build/.checks $(VENV)/bin/jupyter-book build . $(JBFLAGS)

test: $(STAMP)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 -q

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) -m benchmarks

check: $(STAMP)
	$(PY) -m rnnproof check

clean:
	rm -rf _build
