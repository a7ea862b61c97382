#!/usr/bin/env bash
# Installs what the tests drive besides the binary itself, idempotently: real shells for
# the completion tests. Run it once on a new machine (CI runs it on every build):
#
#   tests/setup.sh && cargo test
#
# Tests that need one of these fail with a message pointing here when it is missing;
# none of them passes unchecked.
set -euo pipefail

need_apt=()
for pkg in bash zsh fish; do
  command -v "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y --no-install-recommends "${need_apt[@]}" >/dev/null 2>&1 \
    || { $sudo apt-get update >/dev/null && $sudo apt-get install -y --no-install-recommends "${need_apt[@]}"; }
fi
echo "tests/setup.sh: shells ready ($(command -v bash zsh fish | tr '\n' ' '))"
