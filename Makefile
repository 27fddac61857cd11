# The README's two commands: `make run` and `make test`; `make train` for the origin's model.
.PHONY: run test test-fast setup setup-dev setup-train train tune dashboard lint bench

# `make run` listens on 127.0.0.1 (this machine only); HOST=0.0.0.0 make run opens it to the
# network, which needs a guest gate (ECHO_GUEST_TOKENS or ECHO_ACCESS_TOKEN) or
# ECHO_ALLOW_ANONYMOUS=true. / 기본은 이 컴퓨터에서만 접속 가능
run: setup
	.venv/bin/echo-brain serve --host "$${HOST:-127.0.0.1}"

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

# unit and fast integration tests only (no e2e, no slow): the quick loop while working
test-fast: setup-dev
	bash scripts/test.sh -m "not e2e and not slow"

bench: setup-dev
	.venv/bin/python -m benchmarks
