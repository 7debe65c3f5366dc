# Two commands a new user needs: `make run` (the bot; without TELEGRAM_BOT_TOKEN, the local sandbox)
# and `make test` (every test). Both need only Python >= 3.11 and make: uv is bootstrapped into
# .tools/ and installs the exact versions pinned in uv.lock into .venv/.
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never
# Compile the dependencies' bytecode once at install: where PYTHONDONTWRITEBYTECODE is set (as on some CI
# machines), every bot process the tests start would otherwise compile aiogram and matplotlib again.
export UV_COMPILE_BYTECODE := 1

.PHONY: run test lint mutation soak bench bench-submission bench-export bench-broadcast bench-progress bench-pruning bench-scale-out bench-tenants install clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.installed: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --python $(PYTHON) --quiet
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/sangkien run

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

# Mutation testing of the core rules and figures (slow; not part of `make test`): see docs/testing.md.
mutation: install
	$(VENV)/bin/mutmut run --max-children 2 || true
	$(VENV)/bin/python tests/mutation_score.py

# The council's Word documents for three samples, rendered to PDF and PNG pages in build/docs-preview/ (needs
# libreoffice-writer-nogui and poppler-utils; not part of `make test`).
docs-preview: install
	PYTHONPATH=. $(VENV)/bin/python scripts/docs_preview.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Ten minutes of members, chairs and a broadcast while the bot is killed every minute, PostgreSQL restarts
# once and the emulator fails a share of sends (not part of `make test`): bench/soak.py.
soak: install
	$(VENV)/bin/python -m bench.soak $(BENCH_ARGS)

bench: bench-submission bench-export bench-progress bench-pruning bench-scale-out bench-broadcast bench-tenants

bench-submission: install
	$(VENV)/bin/python -m bench.submission $(BENCH_ARGS)

bench-broadcast: install
	$(VENV)/bin/python -m bench.broadcast $(BENCH_ARGS)

bench-export: install
	$(VENV)/bin/python -m bench.export $(BENCH_ARGS)

bench-progress: install
	$(VENV)/bin/python -m bench.progress $(BENCH_ARGS)

bench-pruning: install
	$(VENV)/bin/python -m bench.pruning $(BENCH_ARGS)

bench-scale-out: install
	$(VENV)/bin/python -m bench.scale_out $(BENCH_ARGS)

bench-tenants: install
	$(VENV)/bin/python -m bench.tenants $(BENCH_ARGS)

clean:
	rm -rf .venv .tools .pytest_cache .ruff_cache sandbox-data
