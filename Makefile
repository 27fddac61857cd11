# The README's two commands: `make run` and `make test`.
.PHONY: run test setup setup-dev lint bench

run: setup
	.venv/bin/echo-brain serve

setup:
	bash scripts/setup.sh

setup-dev:
	bash scripts/setup.sh --dev

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy

test: setup-dev
	bash scripts/test.sh

bench: setup-dev
	.venv/bin/python -m benchmarks
