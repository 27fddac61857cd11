#!/usr/bin/env bash
# Lint, type-check and run the whole test suite (real demo model included).
# 린트, 타입 검사, 전체 테스트(실제 데모 모델 포함).
set -euo pipefail
cd "$(dirname "$0")/.."
export ECHO_MODELS_DIR=${ECHO_MODELS_DIR:-$PWD/models}
.venv/bin/ruff check .
.venv/bin/mypy
# Two test processes (pytest-xdist), a file's tests in one of them (their module fixtures,
# such as a shared server, are made once): on 2 cores the suite takes ~2/3 of the time of
# one process. ECHO_TEST_WORKERS=0 runs everything in this process (for a debugger).
# 테스트 프로세스 두 개로 실행합니다(ECHO_TEST_WORKERS로 조절).
workers=${ECHO_TEST_WORKERS:-2}
if [ "$workers" = 0 ]; then
  .venv/bin/python -m pytest "$@"
else
  .venv/bin/python -m pytest -n "$workers" --dist loadfile "$@"
fi
