# Two entry points for a fresh machine: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
STAGE ?= dev
PORT ?= 8000

.PHONY: run test lint install browser deploy destroy package bench reset screenshots

install: $(STAMP)

# A dangling .venv (e.g. a symlink to a removed directory) is replaced, not trusted.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || { rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q 'pip<26.3'
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

# exec: the stack is make's own child, so that SIGTERM to make (which make does not pass on) reaches it through its
# parent-death signal (devtools/stack.py) rather than leaving it running, ports held, without make.
run: $(STAMP)
	exec env PORT=$(PORT) $(PY) -m devtools.stack

# Local state (accounts, bounties, Stripe objects) survives `make run` restarts; this wipes it (refused while this
# checkout's stack runs: stop it first). The standard library alone, so it needs no install.
reset:
	$(PYTHON) -m devtools.reset

browser:
	sh devtools/ensure_browser.sh

test: $(STAMP) browser
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .

package: $(STAMP)
	STAGE=$(STAGE) sh infra/package.sh

deploy: $(STAMP)
	STAGE=$(STAGE) sh infra/deploy.sh

destroy: $(STAMP)
	STAGE=$(STAGE) sh infra/destroy.sh

screenshots: $(STAMP) browser  ## the web form's screenshots in docs/screenshots, taken anew
	UPDATE_SCREENSHOTS=1 $(PY) -m pytest tests/web

bench: $(STAMP)
	$(PY) -m bench
