# The two commands of the README: `make book` and `make test`. Each creates .venv from
# pyproject.toml on first use (and again whenever pyproject.toml changes).
PYTHON ?= python3
NPM    ?= npm
MATHJAX_VERSION := 3.2.2
MATHJAX := _build/.mathjax/mathjax/tex-mml-chtml.js
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
JBFLAGS ?= -n -W --keep-going

.PHONY: book test browser-test bench check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[book,test]"
	touch $(STAMP)

# MathJax, served from the build (the book typesets its mathematics with no network): the npm
# package mathjax, its es5/ folder copied to _build/.mathjax/mathjax.
$(MATHJAX):
	mkdir -p _build/.npm _build/.mathjax
	$(NPM) install --silent --no-save --no-audit --no-fund --prefix _build/.npm \
	  mathjax@$(MATHJAX_VERSION)
	rm -rf _build/.mathjax/mathjax
	cp -r _build/.npm/node_modules/mathjax/es5 _build/.mathjax/mathjax

# The notebook cache and Sphinx's doctrees are keyed on the chapters' source; when the package
# changes, drop them (and the check results) so that every chapter re-executes against the new
# code. Check results are keyed by the package source too (rnnproof.checks.run): the tests and
# the book share them, so a book built after the tests does not run the same checks again.
FRESH = h=$$(cat rnnproof/*.py rnnproof/checks/*.py | sha256sum | cut -c1-16); \
	if [ "$$(cat _build/.package-hash 2>/dev/null)" != "$$h" ]; then \
	  rm -rf _build/.jupyter_cache _build/.checks _build/.doctrees; fi; \
	mkdir -p _build && echo "$$h" > _build/.package-hash
CHECK_CACHE := RNNPROOF_CHECK_CACHE=$(CURDIR)/_build/.checks

book: $(STAMP) $(MATHJAX)
	@$(FRESH)
	$(CHECK_CACHE) $(VENV)/bin/jupyter-book build . $(JBFLAGS)

test: $(STAMP)
	@$(FRESH)
	$(CHECK_CACHE) OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
	  $(PY) -m pytest -n 2 -q --ignore=tests/test_browser.py

# The built book in headless Chromium with the network off (after `make book`).
browser-test: $(STAMP)
	$(PY) -m pytest -q tests/test_browser.py

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) -m benchmarks

check: $(STAMP)
	$(PY) -m rnnproof check

clean:
	rm -rf _build
