#!/usr/bin/env bash
# Proves the sandbox speaks the real contract to the official TypeScript SDK: installs
# `@zavudev/sdk` (and the TypeScript compiler, to read the SDK's declared types) from npm
# into a throwaway node_modules, starts `zavu-script sandbox` on a free port, and runs
# ts_sdk_flow.mjs against it: every invitation, message, sender, template, phone number,
# me and balance call, each answer checked field by field against the SDK's own types,
# its error classes, its retries and its auto-pagination.
#
# Usage: tests/compat/ts_sdk.sh [path/to/zavu-script]   (default: target/debug/zavu-script)
# Needs Node.js 18+ and npm; without them it fails (it never passes silently).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/target/debug/zavu-script}
sdk_version=${ZAVUDEV_TS_SDK_VERSION:-0.57.0}
ts_version=${TYPESCRIPT_VERSION:-5.9.3}

for tool in node npm; do
  command -v "$tool" >/dev/null || {
    echo "$tool not found: the TypeScript SDK check needs Node.js 18+ and npm (apt-get install nodejs npm)" >&2
    exit 1
  }
done
[ -x "$bin" ] || { echo "no zavu-script binary at $bin (run cargo build)" >&2; exit 2; }

work=$(mktemp -d)
sandbox_pid=
cleanup() {
  [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

(
  cd "$work"
  echo '{"name": "zavu-script-ts-compat", "private": true}' >package.json
  npm install --silent --no-audit --no-fund "@zavudev/sdk@$sdk_version" "typescript@$ts_version"
)
cp "$here/ts_sdk_flow.mjs" "$work/"

"$bin" sandbox --port 0 --api-key zv_test_compat >"$work/sandbox.out" 2>"$work/sandbox.err" &
sandbox_pid=$!
for _ in $(seq 1 100); do
  grep -q 'http://' "$work/sandbox.out" 2>/dev/null && break
  sleep 0.05
done
url=$(grep -o 'http://[0-9.:]*' "$work/sandbox.out" | head -n1)
[ -n "$url" ] || { echo "the sandbox did not start:" >&2; cat "$work/sandbox.err" >&2; exit 1; }

cd "$work"
ZAVUDEV_BASE_URL=$url ZAVUDEV_API_KEY=zv_test_compat node ts_sdk_flow.mjs
