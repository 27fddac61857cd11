# syntax=docker/dockerfile:1.7
# Echo Brain on a CUDA GPU / CUDA GPU용 에코 브레인 이미지
#
#   docker build -t echo-brain .
#   docker run --gpus all -p 8000:8000 -v /srv/llm_models:/models -v /srv/echo-data:/data \
#     echo-brain
#
# The server listens on 0.0.0.0, so it needs a guest gate: unless ECHO_GUEST_TOKENS or
# ECHO_ACCESS_TOKEN is given (or ECHO_ALLOW_ANONYMOUS=true), the first start writes
# /data/tokens.env (0600, on the volume) with a new ECHO_ACCESS_TOKEN and ECHO_ORIGIN_TOKEN
# (unless given) and prints only its path: read it with `cat /srv/echo-data/tokens.env`.
#
# Stage 1 installs uv.lock into /opt/venv and builds llama-cpp-python with CUDA and a
# portable CPU part (before the code is copied, so a code change does not rebuild it);
# stage 2 is the slim CUDA runtime.

ARG CUDA_VERSION=12.6.3
ARG UBUNTU=ubuntu24.04

# ---------------------------------------------------------------- build stage
FROM nvidia/cuda:${CUDA_VERSION}-devel-${UBUNTU} AS build

# A40 = 86, L4/4090 = 89, H100 = 90; extend for other GPUs (slower build).
ARG CUDA_ARCHITECTURES="86;89;90"
ENV DEBIAN_FRONTEND=noninteractive \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv build-essential cmake git \
    && rm -rf /var/lib/apt/lists/*
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv

WORKDIR /app
# 1) dependencies only, exactly as locked, except llama-cpp-python (step 2).
COPY pyproject.toml uv.lock ./
COPY scripts/llama_build.sh scripts/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-project --no-install-package llama-cpp-python \
       --python /usr/bin/python3

# 2) llama-cpp-python with CUDA (-DGGML_CUDA=on), compiled with the `cuda` profile of
#    scripts/llama_build.sh: GGML_NATIVE=OFF with a conservative CPU baseline (AVX2, FMA,
#    F16C; no AVX-512, never AMX). The image must run on hosts other than the one that
#    built it, so nothing of this host's -march=native is baked in; the GPU does the heavy
#    work, so the baseline costs little. Runtime-selected CPU variants
#    (GGML_CPU_ALL_VARIANTS) were not chosen: their Sapphire Rapids variant carries the
#    AMX kernels that crash (llama.cpp #20824). --no-cache: a wheel built with other flags
#    is never reused. The driver library is linked through the toolkit's stub.
RUN ln -sf /usr/local/cuda/lib64/stubs/libcuda.so /usr/local/cuda/lib64/stubs/libcuda.so.1 \
    && . scripts/llama_build.sh && llama_build_env cuda \
    && LD_LIBRARY_PATH=/usr/local/cuda/lib64/stubs:${LD_LIBRARY_PATH:-} \
       CMAKE_ARGS="${CMAKE_ARGS} -DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHITECTURES}" \
       uv pip install --python /opt/venv/bin/python --no-cache --no-deps \
       --no-binary llama-cpp-python \
       "llama-cpp-python==$(sed -n 's/.*"llama-cpp-python==\([^"]*\)".*/\1/p' pyproject.toml)"

# 3) the code (only what the server needs; never models, memory, .env or tests), then the
#    project itself (editable: the app runs from /app).
COPY api/ api/
COPY cli/ cli/
COPY core/ core/
COPY llm/ llm/
COPY origin_model/ origin_model/
COPY dashboard/ dashboard/
COPY manifest/ manifest/
COPY ui/ ui/
COPY README.md models.toml runpod_launcher.sh ./
COPY scripts/tokens.sh scripts/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --inexact --no-dev --no-install-package llama-cpp-python \
       --python /usr/bin/python3

# ---------------------------------------------------------------- runtime stage
FROM nvidia/cuda:${CUDA_VERSION}-runtime-${UBUNTU} AS runtime

ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 echo \
    && useradd --system --uid 10001 --gid echo --home-dir /app --shell /usr/sbin/nologin echo \
    && mkdir -p /models /data/memory /data/memory_backup /data/origin \
    && chown -R echo:echo /models /data

COPY --from=build --chown=echo:echo /opt/venv /opt/venv
COPY --from=build --chown=echo:echo /app /app

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    ECHO_MODELS_DIR=/models \
    ECHO_MEMORY_DIR=/data/memory \
    ECHO_MEMORY_BACKUP_DIR=/data/memory_backup \
    ECHO_ORIGIN_DIR=/data/origin \
    ECHO_MANIFEST_DIR=/app/manifest

WORKDIR /app
USER echo
VOLUME ["/models", "/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/health\", timeout=4)"]

# the tokens first (scripts/tokens.sh: made once on the volume, never printed), then the server
CMD ["bash", "scripts/tokens.sh", "/data/tokens.env", "echo-brain", "serve"]
