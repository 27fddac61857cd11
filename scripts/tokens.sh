#!/usr/bin/env bash
# The guest gate for a server others can reach (the pod, the Docker image).
# 외부에서 접속 가능한 서버(포드, Docker)를 위한 접근 토큰.
#
# When no guest gate is set (ECHO_GUEST_TOKENS or ECHO_ACCESS_TOKEN, in the environment or
# ./.env) and ECHO_ALLOW_ANONYMOUS is not true, the tokens come from FILE: created once (umask
# 077: 0600) with a fresh ECHO_ACCESS_TOKEN, and a fresh ECHO_ORIGIN_TOKEN unless one is set,
# then loaded into the environment on every start. Only the file's path is printed, never a
# token: read them with `cat FILE`.
#
#   source scripts/tokens.sh && ensure_tokens FILE [1 = dry run]
#   bash scripts/tokens.sh FILE COMMAND...   ensure, then exec COMMAND (the Docker image's CMD)

# configured NAME: true when NAME has a value in the environment or in ./.env
configured() {
  local name=$1
  [ -n "${!name:-}" ] || grep -qsE "^${name}=[^[:space:]]" .env
}

# setting NAME: its value from the environment, else from ./.env ('' when unset)
setting() {
  local name=$1
  if [ -n "${!name:-}" ]; then
    printf '%s' "${!name}"
  else
    sed -n "s/^${name}=//p" .env 2>/dev/null | tail -n 1
  fi
}

new_token() {
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'
}

tokens_say() { printf '==> %s\n' "$*" >&2; }

ensure_tokens() {
  local file=$1 dry=${2:-0} key value
  if configured ECHO_GUEST_TOKENS || configured ECHO_ACCESS_TOKEN; then
    tokens_say "tokens: a guest gate is set, none generated / 손님 토큰이 설정되어 있음"
    return 0
  fi
  case "$(setting ECHO_ALLOW_ANONYMOUS)" in
    [Tt]rue | TRUE | 1 | [Yy]es | [Oo]n)
      tokens_say "tokens: ECHO_ALLOW_ANONYMOUS=true, the door is open on purpose / 일부러 열어 둠"
      return 0
      ;;
  esac
  if [ ! -s "$file" ]; then
    if [ "$dry" = 1 ]; then
      printf '[dry-run] create %s (0600) with a new ECHO_ACCESS_TOKEN%s\n' "$file" \
        "$(configured ECHO_ORIGIN_TOKEN || echo ' and ECHO_ORIGIN_TOKEN')"
      return 0
    fi
    (
      umask 077
      mkdir -p "$(dirname "$file")"
      {
        echo "# Echo Brain tokens, made $(date -u +%Y-%m-%dT%H:%M:%SZ); keep them secret / 비밀로"
        configured ECHO_ORIGIN_TOKEN || echo "ECHO_ORIGIN_TOKEN=$(new_token)"
        echo "ECHO_ACCESS_TOKEN=$(new_token)"
      } >"$file.tmp"
      mv "$file.tmp" "$file"
    )
    tokens_say "tokens: created $file (0600); read them with: cat $file / 토큰 파일을 만들었습니다"
  fi
  chmod 600 "$file"
  while IFS='=' read -r key value; do
    case "$key" in
      ECHO_ORIGIN_TOKEN | ECHO_ACCESS_TOKEN | ECHO_GUEST_TOKENS)
        configured "$key" || export "$key=$value"
        ;;
    esac
  done <"$file"
  tokens_say "tokens: loaded from $file (the values are never printed) / 토큰을 불러왔습니다"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  if [ "$#" -lt 2 ]; then
    echo "usage: scripts/tokens.sh FILE COMMAND... / 사용법" >&2
    exit 2
  fi
  ensure_tokens "$1"
  shift
  exec "$@"
fi
