#!/usr/bin/env bash
# Benchmarks, run by hand (not tests). Each section starts from a fresh sandbox state and
# prints its figures; run everything with `bench/run.sh`, or one section by name:
#
#   bench/run.sh [client|capacity|one-call|bulk|e2e|ratelimit|dry-run-1m|push|memory|listen|listen-drain|listen-workers|report|journal-pg|listen-pg]...
#
# `cron` replicas sharing one PostgreSQL (lease failover, connections) have their own:
# bench/replicas.sh. Not in the default list: `listen-drain` and `listen-workers`, and
# `journal-pg` and `listen-pg`, which start their own throwaway PostgreSQL cluster
# (Debian's postgresql: initdb + pg_ctl under a temp dir).
#
# Needs: a Rust toolchain, python3 (the official SDK is installed into a throwaway venv),
# and wrk, hyperfine and GNU time (`apt-get install -y wrk hyperfine time`); `report`
# also needs Chromium (tests/setup.sh installs it).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(client capacity one-call bulk e2e ratelimit dry-run-1m push memory listen report)

work=$(mktemp -d)
sandbox_pid=
pg_stop=()
pg_dir=
cleanup() {
  [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null || true
  [ ${#pg_stop[@]} -gt 0 ] && "${pg_stop[@]}" >/dev/null 2>&1 || true
  [ -n "$pg_dir" ] && rm -rf "$pg_dir"
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building (release)"
cargo build --release --quiet
zs=$root/target/release/zavu-script
export ZAVUDEV_API_KEY=zv_test_sandbox

"$zs" sandbox --port 0 >"$work/sandbox.out" 2>/dev/null &
sandbox_pid=$!
for _ in $(seq 1 100); do grep -q 'http://' "$work/sandbox.out" 2>/dev/null && break; sleep 0.05; done
url=$(grep -o 'http://[0-9.:]*' "$work/sandbox.out" | head -n1)
export ZAVUDEV_BASE_URL=$url
auth="Authorization: Bearer $ZAVUDEV_API_KEY"
echo "sandbox: $url"

control() { curl -s -X POST "$url/_sandbox/$1" -H "$auth" -H 'content-type: application/json' -d "${2:-{\}}" >/dev/null; }
stats() { curl -s "$url/_sandbox/stats" -H "$auth"; }
reset() { control reset; }

venv=$work/venv
python_sdk() {
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "zavudev==${ZAVUDEV_SDK_VERSION:-0.50.0}"
  fi
}

# A throwaway PostgreSQL cluster (stock settings: fsync and synchronous_commit on, as a
# user's would be) on a free port; sets pgbin, pgport and pgsql(), stopped on exit.
start_pg() {
  pgbin=${ZAVU_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)}
  # Its own temp dir: the server's user must be able to reach it (the work dir is 0700).
  pgdir=$(mktemp -d /tmp/zavu-bench-pg.XXXXXX)
  as_pg=()
  if [ "$(id -u)" = 0 ]; then chown postgres: "$pgdir"; as_pg=(runuser -u postgres --); fi
  pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # A stock server: fsync and synchronous_commit on, as a user's would be.
  "${as_pg[@]}" "$pgbin/initdb" -D "$pgdir/data" -U zavu --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w \
    -o "-p $pgport -k $pgdir -c listen_addresses=127.0.0.1" start >/dev/null
  pg_stop=("${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -m fast -w stop)
  pg_dir=$pgdir
  pgsql() { "$pgbin/psql" -X -q -At "postgres://zavu@127.0.0.1:$pgport/${1:-postgres}" -c "$2"; }
}

csv_of() { # N FILE
  python3 - "$1" "$2" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("clientName,clientEmail,clientPhone,allowedPhoneCountries,expiresInDays\n")
    for i in range(n):
        f.write(f"Client {i},client{i}@example.com,+1415{i % 10000000:07d},US|MX,{1 + i % 30}\n")
PY
}

# Wall-clock seconds of a command (GNU time), its stdout kept in $work/last.out.
wall() {
  /usr/bin/time -f "%e" -o "$work/time" "$@" >"$work/last.out" 2>"$work/last.err"
  cat "$work/time"
}

# `listen` on a backlog: EVENTS events put straight into a SQLite inbox (a receiver that
# was down), nothing arriving; prints the handler's pace, first to last `ran:` line.
# drain_backlog NAME HANDLER.rhai EVENTS apart|same [LISTEN FLAGS...]
drain_backlog() {
  local name=$1 handler=$2 events=$3 stamps=$4; shift 4
  reset
  local state="$work/drain-$name" pid
  # A first start makes the inbox and takes the project as it is.
  "$zs" --state-dir "$state" listen "$handler" --port 0 --register self 2>"$work/drain-$name-1.err" &
  pid=$!
  for _ in $(seq 1 200); do grep -q 'first start' "$work/drain-$name-1.err" 2>/dev/null && break; sleep 0.05; done
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  # Deliveries as the receiver records them: stamped ~8 a millisecond apart, as a
  # burst of status changes is, or all in one millisecond.
  python3 - "$state" "$events" "$stamps" <<'PY'
import glob, json, sqlite3, sys, time
state, n, stamps = sys.argv[1], int(sys.argv[2]), sys.argv[3]
db = sqlite3.connect(glob.glob(f"{state}/**/inbox*.sqlite3", recursive=True)[0])
scope = db.execute("SELECT scope FROM marks").fetchone()[0]
now = int(time.time() * 1000)
rows = []
for i in range(n):
    at = now + (i // 8 if stamps == "apart" else 0)
    body = json.dumps({"id": f"evt_{now}_d{i}", "type": "invitation.status_changed", "timestamp": at,
                       "projectId": "prj_bench", "data": {"invitationId": f"inv_d{i}", "clientName": "Bench",
                       "previousStatus": "pending", "currentStatus": "completed"}})
    rows.append((scope, f"evt_{now}_d{i}", f"inv_d{i}", "pending", "completed", at, now, body))
db.executemany("INSERT INTO events (scope, event_id, invitation_id, previous_status, current_status,"
               " event_ms, received_ms, body, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'received')", rows)
db.commit()
PY
  "$zs" --state-dir "$state" listen "$handler" --port 0 --register self "$@" 2>"$work/drain-$name-2.err" &
  pid=$!
  # `grep -c` prints nothing while the log file is not there yet.
  while n=$(grep -c 'ran:' "$work/drain-$name-2.err" 2>/dev/null); [ "${n:-0}" -lt "$events" ]; do
    kill -0 "$pid" 2>/dev/null || { echo "   $name: listen stopped:"; tail -n 5 "$work/drain-$name-2.err"; return 1; }
    sleep 0.1
  done
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  python3 - "$work/drain-$name-2.err" "$events" "$name" <<'PY'
import datetime, sys
path, n, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
at = [datetime.datetime.fromisoformat(l[:24].replace("Z", "+00:00")) for l in open(path) if "ran:" in l]
took = (at[-1] - at[0]).total_seconds()
print(f"   {name:22}: {n} handled in {took:.2f} s = {n / took:,.0f} events/s")
PY
}

for section in "${sections[@]}"; do
  case $section in
  client)
    echo "== client: creates/s through ApiClient, and script vs client per-call cost, same sandbox"
    cargo bench --quiet --bench client_throughput 2>/dev/null | sed 's/^/   /'
    ;;
  capacity)
    echo "== capacity: the sandbox under wrk, POST /v1/invitations, 2 threads, 32 connections, 10 s"
    reset
    cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"clientName":"Load","clientEmail":"load@example.com","expiresInDays":7}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $ZAVUDEV_API_KEY"
LUA
    wrk -t2 -c32 -d10s -s "$work/post.lua" "$url/v1/invitations" | sed 's/^/   /'
    echo "   sandbox stats: $(stats | head -c 200)"
    ;;
  one-call)
    echo "== one-call: wall time of one API call (list, limit 1): zavu-script run vs the Python SDK"
    python_sdk
    echo 'zavu.invitations.list(#{ limit: 1 });' >"$work/one.rhai"
    hyperfine -N --warmup 3 --runs 20 --export-json "$work/one.json" \
      "$zs run $work/one.rhai" \
      "$venv/bin/python -c 'from zavudev import Zavudev; Zavudev().invitations.list(limit=1)'" | sed 's/^/   /'
    python3 - "$work/one.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
zs, py = r[0]["mean"], r[1]["mean"]
print(f"   zavu-script {zs*1000:.1f} ms, Python SDK {py*1000:.1f} ms: {py/zs:.1f}x faster")
PY
    ;;
  bulk)
    echo "== bulk: 10,000 creates, no rate limit — zavu-script campaigns (whole process) vs the Python SDK"
    python_sdk
    csv_of 10000 "$work/10k.csv"
    for conc in 1 8 32; do
      reset
      secs=$(wall "$zs" --state-dir "$work/state-$conc" run --concurrency "$conc" scripts/onboard_from_csv.rhai "$work/10k.csv")
      echo "   zavu-script concurrency $conc: $(tail -n1 "$work/last.out") in ${secs} s = $(python3 -c "print(round(10000/$secs))") rows/s"
    done
    reset
    secs=$(wall "$venv/bin/python" bench/python_bulk.py "$work/10k.csv" seq)
    echo "   Python SDK sequential: loop $(cat "$work/last.out") rows/s; whole process ${secs} s = $(python3 -c "print(round(10000/$secs))") rows/s"
    reset
    secs=$(wall "$venv/bin/python" bench/python_bulk.py "$work/10k.csv" async 16)
    echo "   Python SDK AsyncZavudev x16: loop $(cat "$work/last.out") rows/s; whole process ${secs} s = $(python3 -c "print(round(10000/$secs))") rows/s"
    ;;
  journal-pg)
    runs=${JOURNAL_RUNS:-3}
    echo "== journal-pg: 10,000-row campaign, --concurrency 32, no rate limit — journal in PostgreSQL vs SQLite, $runs runs each, alternating; PostgreSQL schema $([ -n "${JOURNAL_COLD:-}" ] && echo "created by the timed run" || echo "migrated beforehand")"
    start_pg
    echo "   $("$pgbin/postgres" --version); load before: $(uptime | sed 's/.*load average/load average/')"
    csv_of 10000 "$work/10k.csv"
    sqlite_rates=(); pg_rates=(); conns=0
    for i in $(seq 1 "$runs"); do
      reset
      secs=$(wall "$zs" --state-dir "$work/jl-sqlite-$i" run --concurrency 32 scripts/onboard_from_csv.rhai "$work/10k.csv")
      rate=$(python3 -c "print(round(10000/$secs))"); sqlite_rates+=("$rate")
      echo "   run $i SQLite:     $(tail -n1 "$work/last.out") in ${secs} s = $rate rows/s (load $(cut -d' ' -f1 /proc/loadavg))"
      reset
      pgsql postgres "CREATE DATABASE bench_$i" >/dev/null
      # The schema is brought up once, before any runner (README: `state migrate`), as a
      # deployment does; `JOURNAL_COLD=1` leaves it to the timed run (about 0.2 s of DDL
      # on a fresh database, paid once per database, not per campaign).
      if [ -z "${JOURNAL_COLD:-}" ]; then
        "$zs" --state-url "postgres://zavu@127.0.0.1:$pgport/bench_$i" state migrate >/dev/null
      fi
      # Connections the runner holds, sampled while it runs.
      ( peak=0; while :; do
          n=$(pgsql postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = 'bench_$i' AND application_name LIKE 'zavu-script %'" 2>/dev/null || echo 0)
          [ "$n" -gt "$peak" ] && { peak=$n; echo "$peak" >"$work/conns"; }
          sleep 0.05
        done ) &
      sampler=$!
      secs=$(wall "$zs" --state-dir "$work/jl-pg-$i" --state-url "postgres://zavu@127.0.0.1:$pgport/bench_$i" run --concurrency 32 scripts/onboard_from_csv.rhai "$work/10k.csv")
      kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
      rate=$(python3 -c "print(round(10000/$secs))"); pg_rates+=("$rate")
      conns=$(cat "$work/conns" 2>/dev/null || echo "?")
      echo "   run $i PostgreSQL: $(tail -n1 "$work/last.out") in ${secs} s = $rate rows/s (load $(cut -d' ' -f1 /proc/loadavg)); connections held: $conns"
      echo "      journal rows: $(pgsql "bench_$i" "SELECT count(*) FROM zavu_script.campaign_rows WHERE state = 'created'") created"
    done
    python3 - "${sqlite_rates[*]}" "${pg_rates[*]}" <<'PY'
import statistics, sys
s = [int(x) for x in sys.argv[1].split()]; p = [int(x) for x in sys.argv[2].split()]
ms, mp = statistics.median(s), statistics.median(p)
print(f"   median SQLite {ms:.0f} rows/s, PostgreSQL {mp:.0f} rows/s: PostgreSQL/SQLite = {mp/ms:.2f} (target >= 0.8)")
PY
    echo "   load after: $(uptime | sed 's/.*load average/load average/')"
    "${pg_stop[@]}" >/dev/null; pg_stop=(); rm -rf "$pg_dir"; pg_dir=
    ;;
  listen-pg)
    events=${LISTEN_EVENTS:-5000}; samples=${LISTEN_SAMPLES:-50}
    echo "== listen-pg: events/s and latency through one zavu-script listen with its inbox in PostgreSQL (--state-url) vs SQLite (the state directory); figures, not a target"
    start_pg
    echo "   $("$pgbin/postgres" --version); load before: $(uptime | sed 's/.*load average/load average/')"
    pgsql postgres "CREATE DATABASE bench_listen" >/dev/null
    echo "   SQLite inbox:"
    cargo bench --quiet --bench listen_receivers -- "$events" "$samples" | grep -E '^\| (receiver|zavu-script)|^CPU per event' | sed 's/^/   /'
    echo "   PostgreSQL inbox:"
    ZAVU_STATE_URL="postgres://zavu@127.0.0.1:$pgport/bench_listen" \
      cargo bench --quiet --bench listen_receivers -- "$events" "$samples" | grep -E '^\| (receiver|zavu-script)|^CPU per event' | sed 's/^/   /'
    echo "   inbox rows: $(pgsql bench_listen "SELECT state || ' ' || count(*) FROM zavu_script.inbox_events GROUP BY state" | tr '\n' ' ')"
    echo "   load after: $(uptime | sed 's/.*load average/load average/')"
    "${pg_stop[@]}" >/dev/null; pg_stop=(); rm -rf "$pg_dir"; pg_dir=
    ;;
  e2e)
    echo "== e2e: a 3,000-row CSV as a user runs it (default settings; start-up, journal and report included)"
    python_sdk
    csv_of 3000 "$work/3k.csv"
    reset
    zs_secs=$(wall "$zs" --state-dir "$work/state-e2e" run scripts/onboard_from_csv.rhai "$work/3k.csv")
    echo "   zavu-script: $(tail -n1 "$work/last.out") in ${zs_secs} s"
    reset
    seq_secs=$(wall "$venv/bin/python" bench/python_bulk.py "$work/3k.csv" seq)
    reset
    async_secs=$(wall "$venv/bin/python" bench/python_bulk.py "$work/3k.csv" async 16)
    echo "   Python SDK sequential ${seq_secs} s ($(python3 -c "print(round($seq_secs/$zs_secs,1))")x slower), AsyncZavudev x16 ${async_secs} s ($(python3 -c "print(round($async_secs/$zs_secs,1))")x slower)"
    ;;
  ratelimit)
    limit=${RATE_LIMIT:-100}; window=${RATE_WINDOW:-10}; rows=${RATE_ROWS:-1000}
    echo "== ratelimit: $rows creates at $limit per ${window} s ($((limit * 60 / window))/min), latency 150 ms, default concurrency"
    reset
    control faults "{\"rateLimitPerMinute\": $limit, \"rateLimitWindowSeconds\": $window, \"latencyMs\": 150}"
    csv_of "$rows" "$work/rl.csv"
    start=$(date +%s.%N)
    set +e
    "$zs" --state-dir "$work/state-rl" run scripts/onboard_from_csv.rhai "$work/rl.csv" >"$work/rl.out" 2>"$work/rl.err"
    code=$?
    set -e
    end=$(date +%s.%N)
    s=$(stats)
    python3 - "$s" "$start" "$end" "$limit" "$window" "$code" "$(tail -n1 "$work/rl.out")" <<'PY'
import json, sys
s = json.loads(sys.argv[1]); start, end = float(sys.argv[2]), float(sys.argv[3])
limit, window, code, last = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
by = s["byStatus"]; total = s["requests"]; limited = int(by.get("429", 0))
served = total - limited; elapsed = end - start
# Budget share in steady state: the windows strictly inside the run (the first starts at a
# random point of its window and the last runs out of rows), as the sandbox counted them.
wins = s.get("rateWindows", [])
inner = wins[1:-1]
print(f"   script: exit {code}, '{last}'")
print(f"   {served} requests served in {elapsed:.1f} s ({served/elapsed*60:.0f}/min against {limit*60/window:.0f}/min), over {len(wins)} windows")
print("   allowed per window: " + ", ".join(str(w["allowed"]) for w in wins))
if inner:
    share = sum(w["allowed"] for w in inner) / (limit * len(inner))
    print(f"   share of the budget used in the {len(inner)} full windows inside the run: {100*share:.1f}%")
print(f"   429s issued by the sandbox: {limited} of {total} requests ({100*limited/max(total,1):.2f}%)")
PY
    echo "   429s that reached the script: $(grep -c 'rate_limited' "$work/rl.out" || true)"
    control faults '{"rateLimitPerMinute": null, "rateLimitWindowSeconds": null, "latencyMs": null}'
    ;;
  dry-run-1m)
    echo "== dry-run-1m: a 1,000,000-row CSV planned with --dry-run (report written)"
    reset
    csv_of 1000000 "$work/1m.csv"
    /usr/bin/time -f "%e %M" -o "$work/time" "$zs" --state-dir "$work/state-1m" run --dry-run scripts/onboard_from_csv.rhai "$work/1m.csv" >"$work/last.out" 2>"$work/last.err"
    read -r secs kb <"$work/time"
    echo "   $(tail -n1 "$work/last.out") in ${secs} s = $(python3 -c "print(round(1000000/$secs))") rows/s, peak RSS $((kb / 1024)) MB"
    ;;
  push)
    echo "== push: growing an array is linear — N pushes, whole process, default limits (512 MiB budget)"
    for n in 100000 200000 1000000 2000000; do
      printf 'let a = []; for i in 0..%s { a.push(i); } print(a.len());\n' "$n" >"$work/push.rhai"
      /usr/bin/time -f "%e %M" -o "$work/time" "$zs" --sandbox run "$work/push.rhai" >"$work/last.out" 2>"$work/last.err"
      read -r secs kb <"$work/time"
      echo "   $n pushes: ${secs} s, peak RSS $((kb / 1024)) MB ($(python3 -c "print(round($secs / $n * 1e9))") ns per push, process start-up included)"
    done
    ;;
  memory)
    echo "== memory: a runaway map-index loop under --max-memory 64MiB stops at the budget (peak RSS)"
    printf 'let m = #{}; let i = 0; loop { m["k" + i] = i; i += 1; }\n' >"$work/grow.rhai"
    /usr/bin/time -f "%e %M" -o "$work/time" "$zs" --sandbox run --max-memory 64MiB "$work/grow.rhai" >"$work/last.out" 2>"$work/last.err" || true
    # GNU time puts "Command exited with non-zero status 1" first; the figures are last.
    read -r secs kb < <(tail -n1 "$work/time")
    echo "   stopped after ${secs} s, peak RSS $((kb / 1024)) MB: $(grep -o 'held more than [^(]*' "$work/last.err")"
    ;;
  listen)
    events=${LISTEN_EVENTS:-20000}; samples=${LISTEN_SAMPLES:-200}
    echo "== listen: events/s through zavu-script listen (trivial handler) and latency from a status change to the handler's first line, next to a minimal Python receiver (bench/webhook_receiver.py)"
    # stderr stays: a receiver that fails says why here.
    cargo bench --quiet --bench listen_receivers -- "$events" "$samples" | sed 's/^/   /'
    ;;
  listen-drain)
    events=${LISTEN_EVENTS:-20000}
    echo "== listen-drain: the handler's own pace — $events events already in the SQLite inbox (a receiver that was down), nothing arriving, trivial handler; first to last handler line"
    echo 'print("ran:" + event.data.invitationId);' >"$work/drain.rhai"
    for stamps in apart same; do
      drain_backlog "stamped $stamps" "$work/drain.rhai" "$events" "$stamps"
    done
    echo "   load after: $(uptime | sed 's/.*load average/load average/')"
    ;;
  listen-workers)
    events=${LISTEN_EVENTS:-1000}
    echo "== listen-workers: $events events already in the SQLite inbox, a handler that waits 20 ms (as for an API call) — one worker, then --concurrency 4 and 16"
    echo 'sleep(0.02); print("ran:" + event.data.invitationId);' >"$work/waits.rhai"
    for n in 1 4 16; do
      drain_backlog "--concurrency $n" "$work/waits.rhai" "$events" apart --concurrency "$n"
    done
    echo "   load after: $(uptime | sed 's/.*load average/load average/')"
    ;;
  report)
    rows=${REPORT_ROWS:-10000}; limit=${REPORT_LIMIT:-20}; window=${REPORT_WINDOW:-2}
    echo "== report: campaign report --refresh on a $rows-row campaign — list calls, wall time, page size, Chromium's first paint"
    reset
    csv_of "$rows" "$work/report.csv"
    state="$work/state-report"
    "$zs" --state-dir "$state" run scripts/onboard_from_csv.rhai "$work/report.csv" onboard-clients >"$work/last.out" 2>"$work/last.err"
    echo "   campaign: $(tail -n1 "$work/last.out")"
    # The clients act over two days of the sandbox's clock: 40% complete, 20% start,
    # 20% only look (a link that ran out meanwhile stays expired).
    cat >"$work/live.rhai" <<'RHAI'
let n = 0;
for inv in zavu.invitations.all(#{ limit: 100 }) {
    let k = n % 10;
    try {
        if k < 4 { sandbox::complete(inv.id); } else if k < 6 { sandbox::start(inv.id); } else if k < 8 { sandbox::view(inv.id); }
    } catch (e) {
        if !e.message.contains("expired") { throw e; }
    }
    n += 1;
    if n % 200 == 0 { sandbox::advance_clock(3600); }
}
RHAI
    "$zs" run "$work/live.rhai" >/dev/null
    requests() { stats | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["requests"], s["byStatus"].get("429", 0))'; }
    refresh() { # LABEL: one `campaign report --refresh`, its wall time and the requests it made
      read -r r0 l0 < <(requests)
      secs=$(wall "$zs" --state-dir "$state" campaign report onboard-clients --refresh --out "$work/report.html")
      read -r r1 l1 < <(requests)
      echo "   $1: ${secs} s, $((r1 - r0)) requests ($((l1 - l0)) answered 429); $(grep -o 'in [0-9]* list calls*' "$work/last.err")"
    }
    refresh "no rate limit"
    control faults "{\"rateLimitPerMinute\": $limit, \"rateLimitWindowSeconds\": $window}"
    # Let the window the set-up requests used run out, so the run starts on a fresh budget.
    sleep "$window"
    refresh "at $limit per ${window} s ($((limit * 60 / window))/min)"
    control faults '{"rateLimitPerMinute": null, "rateLimitWindowSeconds": null}'
    calls=$(grep -o 'in [0-9]*' "$work/last.err" | tail -n1 | tr -dc 0-9)
    python3 - "$calls" "$limit" "$window" "$secs" <<'PY'
import math, sys
calls, limit, window, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
# At the limit's pace: the first window's budget at once, then one window per further
# `limit` calls — less up to one window, as the first call may land late in its window.
pace = (math.ceil(calls / limit) - 1) * window
print(f"   at the limit's pace {calls} calls take {pace:.1f} s (from {max(pace - window, 0):.1f} s, by where the first lands in its window); took {secs:.1f} s: {secs - pace:+.1f} s off it")
PY
    secs=$(wall "$zs" --state-dir "$state" campaign report onboard-clients --out "$work/report.html")
    echo "   from the journal alone (no refresh): ${secs} s; $(tail -n1 "$work/last.out")"
    echo "   page: $(stat -c %s "$work/report.html") bytes ($(python3 -c "print(round($(stat -c %s "$work/report.html")/1048576, 2))") MiB)"
    cargo bench --quiet --bench report_paint -- "$work/report.html" 5 2>/dev/null | sed "s|$work/||; s/^/   /"
    ;;
  *) echo "unknown section: $section" >&2; exit 2 ;;
  esac
done
