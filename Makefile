# The README's two commands: `make run` and `make test`; `make train` for the origin's model.
.PHONY: run test setup setup-dev setup-train train tune dashboard lint bench

run: setup
	.venv/bin/echo-brain serve

setup:
	bash scripts/setup.sh

setup-dev:
	bash scripts/setup.sh --dev

setup-train:
	bash scripts/setup.sh --train

train: setup-train
	.venv/bin/echo-brain train --memory-dir ./memory

tune: setup-train
	.venv/bin/echo-brain tune --circuit self --memory-dir ./memory

dashboard:
	bash scripts/setup.sh --dashboard
	.venv/bin/echo-brain dashboard

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy

test: setup-dev
	bash scripts/test.sh

bench: setup-dev
	.venv/bin/python -m benchmarks
