#!/usr/bin/env bash
# How long `zavu-script --sandbox repl` takes from launch to its first prompt (target:
# at most 50 ms). Runnable by hand from anywhere: bench/repl_startup.sh [RUNS]
#
# 1. Through a pseudo-terminal, as a person starts it: the clock starts just before the
#    process is spawned and stops when `zavu[sandbox]> ` has been written; then Ctrl-D.
#    Needs python3 (its pty module is the timer; its own start-up is not measured).
# 2. With stdin at EOF (no terminal, no prompt): launch to exit, which includes starting
#    and stopping the in-process sandbox — an upper bound. hyperfine if present, else a
#    loop with date +%s%N.
#
# Uses the release build (built first unless ZAVU_BIN points at a binary).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}

if [[ -z ${ZAVU_BIN:-} ]]; then
  cargo build --release --quiet
  ZAVU_BIN=target/release/zavu-script
fi
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
export ZAVU_SCRIPT_STATE_DIR=$state NO_COLOR=1 TERM=xterm
unset ZAVUDEV_API_KEY ZAVUDEV_BASE_URL

echo "== launch → first prompt, in a pseudo-terminal ($runs runs): $ZAVU_BIN --sandbox repl"
if command -v python3 >/dev/null; then
  python3 - "$ZAVU_BIN" "$runs" <<'PY'
import os, pty, select, statistics, subprocess, sys, time

binary, runs = sys.argv[1], int(sys.argv[2])
prompt = b"zavu[sandbox]> "

def once():
    master, slave = pty.openpty()
    start = time.perf_counter()
    child = subprocess.Popen([binary, "--sandbox", "repl"], stdin=slave, stdout=slave,
                             stderr=slave, close_fds=True, start_new_session=True)
    os.close(slave)
    seen, elapsed = b"", None
    deadline = start + 10
    while time.perf_counter() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            if prompt in seen:
                elapsed = time.perf_counter() - start
                break
    os.write(master, b"\x04")  # Ctrl-D leaves
    while True:  # drain until the child closes the terminal
        ready, _, _ = select.select([master], [], [], 2)
        if not ready:
            break
        try:
            if not os.read(master, 4096):
                break
        except OSError:
            break
    child.wait(timeout=10)
    os.close(master)
    if elapsed is None:
        sys.exit(f"no prompt within 10 s; output was {seen!r}")
    return elapsed * 1000

once()  # warm the page cache
times = sorted(once() for _ in range(runs))
p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
print(f"min {times[0]:.1f} ms   median {statistics.median(times):.1f} ms   "
      f"p90 {p90:.1f} ms   max {times[-1]:.1f} ms")
PY
else
  echo "python3 not found: skipped"
fi

echo
echo "== launch → exit with stdin at EOF (no prompt; includes sandbox start and stop)"
if command -v hyperfine >/dev/null; then
  # hyperfine gives commands a null stdin; newer versions say so with --input.
  input=()
  if hyperfine --help | grep -q -- '--input'; then input=(--input /dev/null); fi
  hyperfine --warmup 3 --runs "$runs" -N "${input[@]}" "$ZAVU_BIN --sandbox repl"
else
  total=0
  for ((i = 0; i < runs; i++)); do
    t0=$(date +%s%N)
    "$ZAVU_BIN" --sandbox repl </dev/null >/dev/null 2>&1
    t1=$(date +%s%N)
    total=$((total + t1 - t0))
  done
  echo "mean $((total / runs / 1000000)) ms over $runs runs (hyperfine not found)"
fi
