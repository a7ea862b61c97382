#!/usr/bin/env bash
# Proves the sandbox speaks the real contract to a client nobody here wrote: installs the
# official `zavudev` Python SDK from PyPI into a throwaway venv, starts
# `zavu-script sandbox` on a free port, and runs python_sdk_flow.py against it in strict
# response-validation mode.
#
# Usage: tests/compat/python_sdk.sh [path/to/zavu-script]   (default: target/debug/zavu-script)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/target/debug/zavu-script}
sdk_version=${ZAVUDEV_SDK_VERSION:-0.50.0}

if ! command -v python3 >/dev/null; then
  echo "python3 not found: the Python SDK check needs python3 with venv (apt-get install python3 python3-venv)" >&2
  exit 1
fi
[ -x "$bin" ] || { echo "no zavu-script binary at $bin (run cargo build)" >&2; exit 2; }

work=$(mktemp -d)
sandbox_pid=
cleanup() {
  [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "zavudev==$sdk_version"

"$bin" sandbox --port 0 --api-key zv_test_compat >"$work/sandbox.out" 2>"$work/sandbox.err" &
sandbox_pid=$!
for _ in $(seq 1 100); do
  grep -q 'http://' "$work/sandbox.out" 2>/dev/null && break
  sleep 0.05
done
url=$(grep -o 'http://[0-9.:]*' "$work/sandbox.out" | head -n1)
[ -n "$url" ] || { echo "the sandbox did not start:" >&2; cat "$work/sandbox.err" >&2; exit 1; }

ZAVUDEV_BASE_URL=$url ZAVUDEV_API_KEY=zv_test_compat "$work/venv/bin/python" "$here/python_sdk_flow.py"
