#!/usr/bin/env bash
# Lint, type-check and run the whole test suite (real demo model included).
# 린트, 타입 검사, 전체 테스트(실제 데모 모델 포함).
set -euo pipefail
cd "$(dirname "$0")/.."
export ECHO_MODELS_DIR=${ECHO_MODELS_DIR:-$PWD/models}
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
