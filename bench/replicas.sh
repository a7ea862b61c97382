#!/usr/bin/env bash
# Benchmark, run by hand (not a test): `cron` replicas sharing one PostgreSQL.
#
#   bench/replicas.sh [ROUNDS] [TTL...]      e.g. bench/replicas.sh 3 2s 30s
#
# For each lease TTL: three replicas run a one-second job that takes far longer than the
# TTL (overlap=skip), the replica running it is killed with SIGKILL, and we time
#   - lost:     SIGKILL → a survivor records the run as lost,
#   - failover: SIGKILL → a survivor starts the job again (the next due time after the
#               lease ran out; the target is ≤ 2 × TTL),
# and count the connections each replica holds (pg_stat_activity by application_name).
# Starts its own throwaway cluster (initdb + pg_ctl under a temp dir, as the postgres user
# when root). ZS=path/to/zavu-script picks the binary (default: a release build).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rounds=${1:-3}
shift || true
ttls=("$@")
[ ${#ttls[@]} -gt 0 ] || ttls=(2s 30s)

if [ -z "${ZS:-}" ]; then
  echo "== building (release)"
  cargo build --release --quiet
  ZS=$root/target/release/zavu-script
fi

work=$(mktemp -d /tmp/zavu-bench-replicas.XXXXXX)
PGBIN=${ZAVU_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)}
as_pg=()
if [ "$(id -u)" = 0 ]; then chown postgres: "$work"; as_pg=(runuser -u postgres --); fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$PGBIN/initdb" -D "$work/data" -U zavu --auth=trust --encoding=UTF8 \
  --locale=C.UTF-8 --no-sync >/dev/null
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$work/data" -l "$work/server.log" -w \
  -o "-p $port -k $work -c listen_addresses=127.0.0.1" start >/dev/null
psql() { "$PGBIN/psql" -X -q -At "postgres://zavu@127.0.0.1:$port/${DB:-postgres}" "$@"; }

tab=$(mktemp -d)
printf '[name=long overlap=skip] * * * * * * long.rhai\n' >"$tab/crontab"
printf 'sleep(3600);\n' >"$tab/long.rhai"

now() { date +%s.%N; }
# The time of the first JSON log line with this event in FILE (epoch seconds), or nothing.
event_time() { # FILE EVENT
  python3 - "$1" "$2" <<'PY'
import json, sys, datetime
for line in open(sys.argv[1], errors="replace"):
    try:
        v = json.loads(line)
    except ValueError:
        continue
    if v.get("event") == sys.argv[2]:
        t = datetime.datetime.fromisoformat(v["time"].replace("Z", "+00:00"))
        print(f"{t.timestamp():.3f}")
        break
PY
}

round=0
for ttl in "${ttls[@]}"; do
  for r in $(seq 1 "$rounds"); do
    round=$((round + 1))
    db=b$round
    psql -c "CREATE DATABASE $db"
    url="postgres://zavu@127.0.0.1:$port/$db"
    pids=()
    for i in 1 2 3; do
      mkdir -p "$work/r$round-$i"
      ZAVU_SCRIPT_STATE_DIR="$work/r$round-$i" ZAVU_STATE_URL=$url \
        "$ZS" --sandbox cron "$tab/crontab" --json-logs --lease-ttl "$ttl" \
        --crontab-name bench >"$work/r$round-$i.log" 2>&1 &
      pids+=($!)
      disown $!   # killed on purpose: no "Killed" notice from the shell
    done
    holder=
    for _ in $(seq 1 600); do
      for i in 1 2 3; do
        if grep -qs '"event":"start"' "$work/r$round-$i.log"; then holder=$i; break 2; fi
      done
      sleep 0.05
    done
    [ -n "$holder" ] || { echo "no run started"; cat "$work"/r$round-*.log; exit 1; }
    conns=$(DB=$db psql -c "SELECT application_name || ': ' || count(*) FROM pg_stat_activity
                            WHERE datname = '$db' AND application_name LIKE 'zavu-script cron%'
                            GROUP BY application_name ORDER BY 1" | sed 's/^/    /')
    killed=$(now)
    kill -9 "${pids[$((holder - 1))]}" 2>/dev/null
    lost= failover=
    deadline=$(python3 -c "print($killed + 4 * ${ttl%s} + 10)")
    while [ -z "$failover" ] && python3 -c "import sys; sys.exit(0 if $(now) < $deadline else 1)"; do
      for i in 1 2 3; do
        [ "$i" = "$holder" ] && continue
        t=$(event_time "$work/r$round-$i.log" lost); [ -n "$t" ] && [ -z "$lost" ] && lost=$t
        t=$(event_time "$work/r$round-$i.log" start); [ -n "$t" ] && failover=$t
      done
      sleep 0.1
    done
    # The lost line is written just before the start line: read it again now.
    for i in 1 2 3; do
      [ "$i" = "$holder" ] && continue
      t=$(event_time "$work/r$round-$i.log" lost); [ -n "$t" ] && { [ -z "$lost" ] || python3 -c "import sys; sys.exit(0 if $t < $lost else 1)"; } && lost=$t
    done
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    python3 - "$ttl" "$killed" "${lost:-nan}" "${failover:-nan}" <<'PY'
import sys
ttl, killed, lost, fo = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
print(f"ttl {ttl}: lost after {lost - killed:.2f} s, failover (next run started) after {fo - killed:.2f} s")
PY
    if [ "$r" = 1 ]; then echo "  connections per replica while running:"; echo "$conns"; fi
  done
done
