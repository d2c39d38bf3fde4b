# The README's commands, for convenience.
.PHONY: install quickstart test lint format

install:
	python3 -m venv .venv && .venv/bin/pip install -c constraints.txt -e '.[test]'

quickstart:
	python3 -m venv .venv && .venv/bin/pip install -c constraints.txt -e . && .venv/bin/gennie quickstart

test:
	python3 -m venv .venv && .venv/bin/pip install -q -c constraints.txt -e '.[test]' && .venv/bin/python -m pytest

lint:
	.venv/bin/ruff check src tests benchmarks scripts
	.venv/bin/ruff format --check src tests benchmarks scripts

format:
	.venv/bin/ruff format src tests benchmarks scripts
