#!/usr/bin/env bash
# The one place that says how llama-cpp-python is compiled, sourced by
# scripts/setup.sh, runpod_launcher.sh and the Dockerfile.
# llama-cpp-python 빌드 옵션의 유일한 출처 (setup.sh, 런처, Dockerfile이 사용).
#
# AMX is never compiled. ggml's AMX matmul (ggml_backend_amx_mul_mat) executes
# ldtilecfg without asking the kernel for XTILEDATA permission per thread, and
# dies with a general protection fault on Sapphire-Rapids-class VMs
# (llama.cpp issue #20824, PR #26954). -mno-amx-* must reach both the C and C++
# compilers: GGML_NATIVE's -march=native would otherwise switch AMX back on, and
# GCC lets an explicit -mno-* win over -march wherever it appears.
# AMX는 절대 컴파일하지 않습니다 (Sapphire Rapids VM에서 ldtilecfg 보호 오류).

NO_AMX_CFLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
NO_AMX_DEFINES="-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"

# llama_build_env PROFILE: exports CMAKE_ARGS, CFLAGS and CXXFLAGS for one profile
# (CMake turns CFLAGS/CXXFLAGS into CMAKE_C_FLAGS/CMAKE_CXX_FLAGS; CMAKE_ARGS is split
# on spaces by the build backend, so it carries no quoted values).
#   native    this machine's CPU (make run / make test): -march=native minus AMX
#   portable  any x86-64 with AVX2/FMA/F16C (Haswell, 2013+), no AVX-512, no AMX:
#             for images and volumes that may start on another host
#   cuda      the portable CPU part + CUDA (the pod and the Docker image)
llama_build_env() {
  local portable="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF"
  case "$1" in
    native) CMAKE_ARGS="-DGGML_NATIVE=ON ${NO_AMX_DEFINES}" ;;
    portable) CMAKE_ARGS="${portable} ${NO_AMX_DEFINES}" ;;
    cuda) CMAKE_ARGS="-DGGML_CUDA=on ${portable} ${NO_AMX_DEFINES}" ;;
    *) echo "llama_build_env: unknown profile '$1' (native|portable|cuda)" >&2; return 2 ;;
  esac
  CFLAGS="${NO_AMX_CFLAGS}"
  CXXFLAGS="${NO_AMX_CFLAGS}"
  export CMAKE_ARGS CFLAGS CXXFLAGS
}

# llama_build_key VERSION CMAKE_ARGS: (after llama_build_env) a digest of everything that changes the
# built library. A cached wheel is reused only under the same key, so a wheel
# built with other flags (or for another CPU, for native builds) never is.
llama_build_key() {
  {
    printf 'version=%s\ncmake_args=%s\ncflags=%s\ncxxflags=%s\n' "$1" "$2" "${CFLAGS:-}" "${CXXFLAGS:-}"
    printf 'cc=%s\n' "$(${CC:-cc} --version 2>/dev/null | head -n 1)"
    printf 'cxx=%s\n' "$(${CXX:-c++} --version 2>/dev/null | head -n 1)"
    printf 'arch=%s\n' "$(uname -m)"
    case "$2" in
      *GGML_NATIVE=ON*) grep -m 1 -E '^(flags|Features)' /proc/cpuinfo 2>/dev/null || true ;;
    esac
  } | sha256sum | cut -c 1-16
}
