#!/usr/bin/env bash
# Echo Brain pod launcher (RunPod): idempotent, safe to run on every pod start.
# 에코 브레인 포드 실행 스크립트: 포드를 켤 때마다 다시 실행해도 안전합니다.
#
#   bash runpod_launcher.sh            set up what is missing, then serve on 0.0.0.0:$PORT
#   bash runpod_launcher.sh --dry-run  print every step, change nothing
#   bash runpod_launcher.sh --with-torch  also install PyTorch with CUDA (for `echo-brain tune`
#                                      and `train` on the GPU); the same: ECHO_INSTALL_TORCH=cuda
#   bash runpod_launcher.sh --help
#
# Steps / 단계:
#   1. virtual environment in $ECHO_VENV (default /workspace/echo-brain-venv; /workspace persists)
#   2. dependencies from uv.lock (skipped while uv.lock is unchanged)
#   3. llama-cpp-python built with CUDA (CMAKE_ARGS=-DGGML_CUDA=on, portable CPU part, never
#      AMX: scripts/llama_build.sh), only when a GPU is present and the installed build
#      lacks GPU offload (llama_supports_gpu_offload()) or was built with other flags
#   3b. only when asked (--with-torch or ECHO_INSTALL_TORCH=cuda): PyTorch with CUDA (PyPI's
#      Linux wheel, the version scripts/setup.sh pins) and the train group of uv.lock, so
#      `echo-brain tune` / `train` run on the GPU; skipped when a CUDA torch is present.
#      Serving never needs it: without the flag nothing of PyTorch is installed.
#   4. the models: `echo-brain fetch-models` when one is missing (ECHO_MODELS_DIR,
#      default /workspace/llm_models; the A40 defaults of models.toml unless ECHO_*_MODEL
#      is set in the environment or .env)
#   5. `echo-brain scan` (diagnostics; a failure is reported, the server still starts and
#      /ready says which circuit failed)
#   6. the guest gate: a server on 0.0.0.0 needs one (`echo-brain serve` refuses to start
#      without). Unless ECHO_GUEST_TOKENS or ECHO_ACCESS_TOKEN is set (or ECHO_ALLOW_ANONYMOUS
#      =true), the tokens come from $ECHO_TOKENS_FILE (default /workspace/echo-brain/tokens.env
#      on the volume): made once, 0600, with a new ECHO_ACCESS_TOKEN and ECHO_ORIGIN_TOKEN (if
#      unset). Only its path is printed; read the tokens with `cat` on the pod.
#   7. exec `echo-brain serve` on $HOST:$PORT (0.0.0.0:8000)
# Logs / 로그: everything is appended to $ECHO_LOG_DIR/echo-brain.log
#   (default /workspace/logs/echo-brain.log) and shown on the console (tee).
set -euo pipefail

APP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=${ECHO_VENV:-/workspace/echo-brain-venv}
LOG_DIR=${ECHO_LOG_DIR:-/workspace/logs}
LOG_FILE=$LOG_DIR/echo-brain.log
PYTHON=${PYTHON:-python3}
UV_VERSION=0.13.9
TORCH_VERSION=2.13.0  # the same pin as scripts/setup.sh
# shellcheck source=scripts/llama_build.sh
source "$APP_DIR/scripts/llama_build.sh"
# shellcheck source=scripts/tokens.sh
source "$APP_DIR/scripts/tokens.sh"
TOKENS_FILE=${ECHO_TOKENS_FILE:-/workspace/echo-brain/tokens.env}
export ECHO_MODELS_DIR=${ECHO_MODELS_DIR:-/workspace/llm_models}
export HOST=${HOST:-0.0.0.0}
export PORT=${PORT:-8000}

DRY_RUN=0
INSTALL_TORCH=${ECHO_INSTALL_TORCH:-}
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    --with-torch) INSTALL_TORCH=cuda ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      cat <<'EOF'

Environment / 환경 변수:
  PORT (8000), HOST (0.0.0.0), ECHO_MODELS_DIR (/workspace/llm_models),
  ECHO_VENV (/workspace/echo-brain-venv), ECHO_LOG_DIR (/workspace/logs),
  ECHO_EMOTION_MODEL / ECHO_CREATION_MODEL / ECHO_SELF_MODEL (A40 defaults; '' = demo),
  ECHO_INSTALL_TORCH ('' = no PyTorch; cuda = PyTorch with CUDA, as --with-torch),
  ECHO_TOKENS_FILE (/workspace/echo-brain/tokens.env: the generated tokens, 0600),
  PYTHON (python3), and every ECHO_* variable of .env.example.
EOF
      exit 0
      ;;
    *)
      echo "unknown option: $arg (try --help) / 알 수 없는 옵션" >&2
      exit 2
      ;;
  esac
done

case "$INSTALL_TORCH" in
  "" | 0 | no | cuda) ;;
  *)
    echo "ECHO_INSTALL_TORCH must be 'cuda' or empty, got '$INSTALL_TORCH' / 'cuda' 또는 빈 값" >&2
    exit 2
    ;;
esac

say() { printf '==> %s\n' "$*"; }

# run CMD...: run it, or only print it (shell-quoted) in --dry-run mode.
run() {
  if [ "$DRY_RUN" = 1 ]; then
    local quoted
    quoted=$(printf '%q ' "$@")
    printf '[dry-run] %s\n' "${quoted% }"
  else
    "$@"
  fi
}

# The A40 defaults from models.toml, unless the variable is set (even to '') or in .env.
default_model() {
  local var=$1 file=$2
  if [ -z "${!var+x}" ] && ! grep -qs "^${var}=" "$APP_DIR/.env"; then
    export "$var=$file"
  fi
  say "$var=${!var:-<demo model>}"
}

if [ "$DRY_RUN" = 0 ]; then
  mkdir -p "$LOG_DIR" "$ECHO_MODELS_DIR"
  exec > >(tee -a "$LOG_FILE") 2>&1
fi
cd "$APP_DIR"
say "echo-brain launcher $(date -u +%Y-%m-%dT%H:%M:%SZ): app $APP_DIR, logs $LOG_FILE"
[ "$DRY_RUN" = 1 ] && say "dry run: nothing is changed / 아무것도 바꾸지 않습니다"

default_model ECHO_EMOTION_MODEL mixtral-8x7b-instruct-v0.1.Q4_K_M.gguf
default_model ECHO_CREATION_MODEL deepseek-coder-6.7b-instruct.Q4_K_M.gguf
default_model ECHO_SELF_MODEL Meta-Llama-3-8B-Instruct-Q4_K_M.gguf
say "models dir / 모델 폴더: $ECHO_MODELS_DIR"

say "1. virtual environment / 가상환경: $VENV"
if [ ! -x "$VENV/bin/python" ]; then
  run "$PYTHON" -m venv "$VENV"
else
  say "   present, kept / 이미 있음"
fi
PY=$VENV/bin/python
BRAIN=$VENV/bin/echo-brain

say "2. dependencies from uv.lock / 의존성 (uv.lock)"
# the stamp covers the lock and the app folder (the project is installed editable from it)
LOCK_SUM=$({ cat "$APP_DIR/uv.lock"; echo "$APP_DIR"; } | sha256sum | cut -d' ' -f1)
STAMP=$VENV/.echo-brain-lock.sha256
if [ "$DRY_RUN" = 1 ] || [ "$(cat "$STAMP" 2>/dev/null || true)" != "$LOCK_SUM" ]; then
  run "$PY" -m pip install --quiet --upgrade pip "uv==$UV_VERSION"
  run "$VENV/bin/uv" export --frozen --no-dev --no-hashes --no-emit-project \
    --no-emit-package llama-cpp-python -o "$VENV/requirements.lock.txt"
  run "$VENV/bin/uv" pip install --python "$PY" -r "$VENV/requirements.lock.txt"
  run "$VENV/bin/uv" pip install --python "$PY" --no-deps -e "$APP_DIR"
  if [ "$DRY_RUN" = 0 ]; then echo "$LOCK_SUM" >"$STAMP"; fi
else
  say "   up to date with uv.lock, skipped / 최신 상태"
fi

say "3. llama-cpp-python with CUDA / CUDA 빌드"
LLAMA_VERSION=$(sed -n 's/.*"llama-cpp-python==\([^"]*\)".*/\1/p' "$APP_DIR/pyproject.toml")
LLAMA_SPEC="llama-cpp-python==${LLAMA_VERSION:?cannot read the llama-cpp-python pin}"
GPU_PROBE='import llama_cpp, sys; sys.exit(0 if llama_cpp.llama_supports_gpu_offload() else 1)'
BUILD_STAMP=$VENV/.llama-build-key
if [ -d /usr/local/cuda/bin ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
# build PROFILE: compile llama-cpp-python with that profile's flags (never from pip's
# cache: a wheel built with other flags must not come back) and record the flags' key.
build() {
  llama_build_env "$1"
  local key
  key=$(llama_build_key "$LLAMA_VERSION" "$CMAKE_ARGS")
  say "   CMAKE_ARGS=$CMAKE_ARGS CFLAGS=$CFLAGS"
  run env CMAKE_ARGS="$CMAKE_ARGS" CFLAGS="$CFLAGS" CXXFLAGS="$CXXFLAGS" FORCE_CMAKE=1 \
    "$PY" -m pip install --no-cache-dir --force-reinstall --no-deps --no-binary llama-cpp-python \
    "$LLAMA_SPEC"
  if [ "$DRY_RUN" = 0 ]; then echo "$key" >"$BUILD_STAMP"; fi
}
# built PROFILE: true when the installed build has exactly that profile's flags
built() {
  llama_build_env "$1"
  [ "$(cat "$BUILD_STAMP" 2>/dev/null || true)" = "$(llama_build_key "$LLAMA_VERSION" "$CMAKE_ARGS")" ]
}
if [ "$DRY_RUN" = 1 ]; then
  say "   when nvidia-smi finds a GPU and this probe fails (or the flags changed): $PY -c '$GPU_PROBE'"
  build cuda
  say "   without a GPU and without llama_cpp (or with other flags): the portable CPU build"
  build portable
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  if "$PY" -c "$GPU_PROBE" 2>/dev/null && built cuda; then
    say "   already built with GPU offload and these flags, skipped / 이미 GPU 빌드"
  else
    say "   building with CUDA (10-20 min) / CUDA로 빌드 중 (10-20분)"
    build cuda
  fi
elif ! "$PY" -c 'import llama_cpp' 2>/dev/null || ! { built portable || built cuda; }; then
  say "   no GPU found: portable CPU build / GPU 없음: CPU 빌드"
  build portable
else
  say "   no GPU found, CPU build present / GPU 없음, CPU 빌드 있음"
fi

say "3b. PyTorch with CUDA for tune/train / 학습용 PyTorch (CUDA)"
TORCH_PROBE='import sys, torch; sys.exit(0 if torch.version.cuda else 1)'
if [ "$INSTALL_TORCH" != cuda ]; then
  say "   not asked (--with-torch or ECHO_INSTALL_TORCH=cuda), skipped / 요청 없음, 건너뜀"
elif [ "$DRY_RUN" = 0 ] && "$PY" -c "$TORCH_PROBE" 2>/dev/null; then
  say "   a CUDA build of torch is present, kept / CUDA용 torch 있음"
else
  run "$VENV/bin/uv" export --frozen --only-group train --no-hashes --no-emit-project \
    -o "$VENV/requirements.train.txt"
  run "$VENV/bin/uv" pip install --python "$PY" -r "$VENV/requirements.train.txt"
  run "$VENV/bin/uv" pip install --python "$PY" "torch==$TORCH_VERSION"
  if [ "$DRY_RUN" = 0 ] && ! "$PY" -c "$TORCH_PROBE"; then
    say "WARNING: this torch has no CUDA build; tune will run on CPU / torch에 CUDA 없음"
  fi
fi

say "4. models / 모델"
if [ "$DRY_RUN" = 1 ] || ! "$BRAIN" fetch-models --check >/dev/null 2>&1; then
  run "$BRAIN" fetch-models || say "WARNING: fetch-models failed, see above / 모델 받기 실패"
else
  say "   all present, skipped / 모두 있음"
fi

say "5. scan / 진단"
run "$BRAIN" scan || say "WARNING: scan found a blocking problem; /ready will say which / 문제 발견"

say "6. guest gate / 접근 토큰"
case "$HOST" in
  127.* | localhost | ::1) say "   $HOST is this machine only, no token needed / 이 컴퓨터 전용" ;;
  *) ensure_tokens "$TOKENS_FILE" "$DRY_RUN" ;;
esac

say "7. serve on $HOST:$PORT (health: http://127.0.0.1:$PORT/health) / 서버 시작"
if [ "$DRY_RUN" = 1 ]; then
  run "$BRAIN" serve --host "$HOST" --port "$PORT"
  exit 0
fi
exec "$BRAIN" serve --host "$HOST" --port "$PORT"
