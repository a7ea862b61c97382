#!/usr/bin/env bash
# Installs what the tests need beyond a Rust toolchain, and only what is missing, so it is
# safe to run before every test run (CI runs it before the cargo steps):
#
#   - Debian's chromium, for the browser tests (the campaign report rendered and
#     screenshotted, the sandbox's invite page clicked through to completion);
#   - real bash, zsh and fish, for the shell-completion tests.
#
# Run from anywhere: tests/setup.sh. Needs root (or sudo) for apt-get when something is
# missing; prints what it found either way.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root to run: $*" >&2; return 1
  fi
}

apt_updated=
apt_install() { # PACKAGE...
  if ! command -v apt-get >/dev/null; then
    say "apt-get not found: install $* yourself" >&2
    return 1
  fi
  if [ -z "$apt_updated" ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Chromium: the browser tests look for $CHROMIUM, then chromium, chromium-browser,
# google-chrome on PATH, and fail with the reason when none starts.
if [ -n "${CHROMIUM:-}" ] && [ -x "$CHROMIUM" ]; then
  say "chromium: $CHROMIUM (from \$CHROMIUM)"
elif command -v chromium >/dev/null; then
  say "chromium: $(command -v chromium)"
else
  say "installing Debian's chromium"
  apt_install chromium fonts-dejavu-core
  say "chromium: $(command -v chromium)"
fi
chromium_bin=${CHROMIUM:-$(command -v chromium)}
say "$("$chromium_bin" --version 2>/dev/null || echo "chromium does not run: $chromium_bin")"

# Shells: the completion tests source the generated scripts into real ones.
missing=()
for shell in bash zsh fish; do
  command -v "$shell" >/dev/null || missing+=("$shell")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt_install "${missing[@]}"
fi
say "shells: $(command -v bash zsh fish | tr '\n' ' ')"
