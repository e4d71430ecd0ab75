#!/usr/bin/env bash
# make bench: release-build benchmarks over generated data. Prints the figures
# the README quotes. Data is generated once into $BENCH_DATA and reused.
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=${CACHE:-$HOME/.cache/driftlake}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
BENCH_DATA=${BENCH_DATA:-$CACHE/bench-data}
BENCH_MB=${BENCH_MB:-220}
PY=${PY:-python3}

VENV_PY=${VENV_PY:-$CACHE/venv/bin/python}   # duckdb for the side-by-side figure (make venv)
# BENCH_ONLY="telemetry report" runs only those sections (engine sessions sessions-2g
# sessions-1day sessions-1shard attribution agents telemetry report noop); all of
# them by default.
want() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }

cargo build --release --locked --bin driftlake --bench engine --bench agents --bench report --bench otlp
BIN=$CARGO_TARGET_DIR/release/driftlake
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

if want engine || want sessions; then
if [ ! -f "$BENCH_DATA/.done-$BENCH_MB" ]; then
  rm -rf "$BENCH_DATA/sessrec"; mkdir -p "$BENCH_DATA"
  echo "generating ~${BENCH_MB} MB of sessrec shards into $BENCH_DATA" >&2
  $PY tools/gen/sessrec_gen.py --out "$BENCH_DATA/sessrec" --seed 7 --days 30 --deckies 8 \
      --target-bytes $((BENCH_MB * 1000 * 1000)) --syslog
  touch "$BENCH_DATA/.done-$BENCH_MB"
fi
bytes=$(find "$BENCH_DATA/sessrec" -name 'sessions-*.jsonl*' -printf '%s\n' | awk '{s+=$1} END {print s}')
echo "input: $bytes bytes of sessrec shards"

fi

if want engine; then
echo "== engine alone (decode vs extract, 1 thread) =="
# The engine bench binary built above (the newest, if older builds are there).
engine_bin=$(ls -t "$CARGO_TARGET_DIR"/release/deps/engine-* 2>/dev/null | grep -v '\.d$' | head -1)
if [ -n "$engine_bin" ]; then
  "$engine_bin" "$BENCH_DATA/sessrec"
else
  cargo bench --locked --bench engine -- "$BENCH_DATA/sessrec"
fi

fi

if want sessions; then
echo "== session pipeline end to end (parse + extract + Parquet; attribution stage off) =="
# The session stage alone: shards and recorder logs in, sessions,
# observations and dlq out (no attribution, drift events, agents or
# telemetry stage).
job=$(mktemp --suffix=.toml)
printf '[job]\nname = "bench-sessions"\n[lake]\nurl = "./unused"\n[sources]\nsessrec = ["%s"]\nsession_logs = ["%s"]\n[stages]\nsessions = true\nattribution = false\ndrift_events = false\n' \
  "$BENCH_DATA/sessrec" "$BENCH_DATA/sessrec/logs" > "$job"
for threads in 1 1 1 2 2 2; do
  lake=$(mktemp -d)
  /usr/bin/time -f '%e %M' -o /tmp/driftlake-bench-time "$BIN" run "$job" \
      --lake "$lake" --threads "$threads" --json > /tmp/driftlake-bench-summary.json
  read -r wall rss_kb < /tmp/driftlake-bench-time
  sessions=$($PY -c 'import json;print(sum(json.load(open("/tmp/driftlake-bench-summary.json"))["sessions"].values()))')
  awk -v b="$bytes" -v w="$wall" -v t="$threads" -v s="$sessions" -v r="$rss_kb" 'BEGIN {
    printf "threads=%d wall=%.2fs  %.1f MB/s total  %.1f MB/s per core  %.0f sessions/s  peak RSS %.0f MiB\n",
           t, w, b/1e6/w, b/1e6/w/t, s/w, r/1024 }'
  rm -rf "$lake"
done
rm -f "$job"

fi

# big_sessions NAME TITLE GEN-ARGS...: the session stage over ~2 GB of
# generated shards, 1 and 2 threads, peak RSS; with RERUN=1 also a --full
# rerun on 2 threads over the committed lake (every partition merged with
# its committed rows and found unchanged).
big_sessions() {
local name=$1 title=$2; shift 2
echo "== session pipeline over $title: peak RSS with the spool and streamed partitions =="
local bdir="$BENCH_DATA/sessrec-$name"
if [ ! -f "$BENCH_DATA/.done-sessrec-$name" ]; then
  rm -rf "$bdir"
  echo "generating $title into $bdir" >&2
  $PY tools/gen/sessrec_gen.py --out "$bdir" "$@" --syslog --quiet
  touch "$BENCH_DATA/.done-sessrec-$name"
fi
local bbytes nshards
bbytes=$(find "$bdir" -name 'sessions-*.jsonl*' -printf '%s\n' | awk '{s+=$1} END {print s}')
nshards=$(find "$bdir" -name 'sessions-*.jsonl*' | wc -l)
echo "input: $bbytes bytes in $nshards sessrec shards"
local job
job=$(mktemp --suffix=.toml)
printf '[job]\nname = "bench-sessions-%s"\n[lake]\nurl = "./unused"\n[sources]\nsessrec = ["%s"]\nsession_logs = ["%s"]\n[stages]\nsessions = true\nattribution = false\ndrift_events = false\n' \
  "$name" "$bdir" "$bdir/logs" > "$job"
for threads in 1 2 rerun; do
  [ "$threads" = rerun ] && [ "${RERUN:-0}" != 1 ] && continue
  local t=$threads extra=()
  if [ "$threads" = rerun ]; then t=2; extra=(--full); else lake=$(mktemp -d); fi
  /usr/bin/time -f '%e %M' -o /tmp/driftlake-bench-time "$BIN" run "$job" \
      --lake "$lake" --threads "$t" "${extra[@]}" --json -q > /tmp/driftlake-bench-summary.json
  read -r wall rss_kb < /tmp/driftlake-bench-time
  $PY - "$bbytes" "$wall" "$t" "$rss_kb" "$threads" <<'PY'
import json, sys
b, w, t, r = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s = json.load(open("/tmp/driftlake-bench-summary.json"))
obs = s["tables"]["observations"]
what = "--full rerun, " if sys.argv[5] == "rerun" else ""
print(f"{what}threads={t} wall={w:.2f}s  {b/1e6/w/t:.1f} MB/s per core  {s['observations']} observations  "
      f"spooled {s['spooled_bytes']/2**20:.1f} MiB in {s['spool_files']} files  "
      f"observations partitions written/unchanged {obs['partitions_written']}/{obs['partitions_unchanged']}  "
      f"peak RSS {r/1024:.0f} MiB")
PY
  [ "$threads" = 2 ] && [ "${RERUN:-0}" = 1 ] && continue
  rm -rf "$lake"
done
rm -f "$job"
}

if want sessions-2g; then
# The same job over ~9x the input, spread over 60 days: memory must not follow it.
big_sessions 2g "2 GB of new shards (60 days x 8 deckies)" \
  --seed 9 --days 60 --deckies 8 --target-bytes 2000000000
fi

if want sessions-1day; then
# ~2 GB on a single day (64 deckies, ~100 shards of ~20 MB): one day's
# partition is larger than the memory target, so it must be streamed.
RERUN=1 big_sessions 1day "2 GB of new shards on one day (64 deckies)" \
  --seed 13 --days 1 --deckies 64 --target-bytes 2000000000
fi

if want sessions-1shard; then
# ~2 GB in a single shard (one decky, one service, one day): the shard is
# past [engine] stream_shards_from, so it is read in two streamed passes
# rather than held.
big_sessions 1shard "2 GB in one shard" \
  --seed 17 --days 1 --deckies 1 --services ssh --unique 400 --target-bytes 2000000000
fi

if want noop; then
echo "== no-op incremental run: 10,000 shards + 100 recorder logs, nothing new (sessions, attribution, drift events) =="
ndir="$BENCH_DATA/noop-10k"
if [ ! -f "$BENCH_DATA/.done-noop-10k" ]; then
  rm -rf "$ndir"
  echo "generating 10,000 one-session shards over 100 days x 100 deckies into $ndir" >&2
  $PY tools/gen/sessrec_gen.py --out "$ndir" --seed 11 --days 100 --deckies 100 --services ssh \
      --sessions 10000 --syslog --quiet
  touch "$BENCH_DATA/.done-noop-10k"
fi
lake=$(mktemp -d)
job=$(mktemp --suffix=.toml)
printf '[job]\nname = "bench-noop"\n[lake]\nurl = "%s"\n[sources]\nsessrec = ["%s"]\nsession_logs = ["%s"]\n[stages]\nsessions = true\nattribution = true\ndrift_events = true\n' \
  "$lake" "$ndir" "$ndir/logs" > "$job"
noop_line() {
  /usr/bin/time -f '%e %M' -o /tmp/driftlake-bench-time "$BIN" run "$job" --json -q > /tmp/driftlake-bench-summary.json
  read -r wall rss_kb < /tmp/driftlake-bench-time
  $PY -c 'import json,sys; d=json.load(open("/tmp/driftlake-bench-summary.json"))
print("%s: inputs read %d, unchanged %d, list+decide %.3f s, run %.2f s, peak RSS %.0f MiB, attribution_state rows %s"
      % (sys.argv[1], len(d["inputs"]), d["inputs_unchanged"], d["list_and_decide_s"], float(sys.argv[2]),
         int(sys.argv[3]) / 1024, d["tables"].get("attribution_state", {}).get("rows", "?")))' "$1" "$wall" "$rss_kb"
}
noop_line "first run"
for i in 1 2 3; do noop_line "no-op run $i"; done
rm -rf "$lake" "$job"

fi

if want attribution; then
echo "== attribution_state (1,000,000 synthetic observations, 10,000 identities) =="
cargo bench --locked --bench attribution

fi

if want agents; then
echo "== agent monitor (JSON lines -> agent_profiles) =="
AGENT_EVENTS=${AGENT_EVENTS:-2000000}
agents_file="$BENCH_DATA/agents/agents-$AGENT_EVENTS.jsonl"
if [ ! -f "$agents_file" ]; then
  mkdir -p "$BENCH_DATA/agents"
  echo "generating $AGENT_EVENTS agent events into $agents_file" >&2
  $PY tools/gen/agents_gen.py bench "$agents_file.tmp" "$AGENT_EVENTS"
  mv "$agents_file.tmp" "$agents_file"
fi
cargo bench --locked --bench agents -- "$agents_file"
echo "-- driftlake run, agents stage only (+ agent_events and agent_profiles Parquet), 1 thread --"
job=$(mktemp --suffix=.toml)
printf '[job]\nname = "bench-agents"\n[lake]\nurl = "./lake"\n[sources]\nagents = ["%s"]\n[stages]\nsessions = false\nattribution = false\n' \
  "$agents_file" > "$job"
lake=$(mktemp -d)
/usr/bin/time -f '%e %M' -o /tmp/driftlake-bench-time "$BIN" run "$job" --lake "$lake" --threads 1 --json \
  > /tmp/driftlake-bench-summary.json
read -r wall rss_kb < /tmp/driftlake-bench-time
abytes=$(stat -c %s "$agents_file")
awk -v b="$abytes" -v w="$wall" -v n="$AGENT_EVENTS" -v r="$rss_kb" 'BEGIN {
  printf "wall=%.2fs  %.2f M events/s  %.1f MB/s  peak RSS %.0f MiB\n", w, n/w/1e6, b/1e6/w, r/1024 }'
/usr/bin/time -f '%e' -o /tmp/driftlake-bench-time "$BIN" run "$job" --lake "$lake" --threads 1 --json \
  > /tmp/driftlake-bench-summary.json
echo "rerun with nothing new: $(cat /tmp/driftlake-bench-time) s"
rm -rf "$lake" "$job"

fi

if want telemetry; then
echo "== telemetry: OTLP JSON lines -> evidence, correlations, behavior_summary, kg_*, drift_events =="
OTLP_MB=${OTLP_MB:-512}
odir="$BENCH_DATA/otlp-$OTLP_MB"
if [ ! -f "$odir/.done" ]; then
  rm -rf "$odir"
  echo "generating ${OTLP_MB} MiB of OTLP JSON lines (60 flow nodes) into $odir" >&2
  $PY tools/gen/otlp_gen.py bench --out "$odir" --mb "$OTLP_MB" --nodes 60
  touch "$odir/.done"
fi
obytes=$(find "$odir/otlp" -name '*.json' -printf '%s\n' | awk '{s+=$1} END {print s}')
echo "input: $obytes bytes of OTLP JSON lines, $(ls "$odir/otlp" | wc -l) files"
echo "-- decoding alone, one file, 1 thread (benches/otlp.rs) --"
otlp_bin=$(ls -t "$CARGO_TARGET_DIR"/release/deps/otlp-* 2>/dev/null | grep -v '\.d$' | head -1)
first=$(ls "$odir/otlp"/*.json | head -1)
if [ -n "$otlp_bin" ]; then "$otlp_bin" "$first"; else cargo bench --locked --bench otlp -- "$first"; fi
job=$(mktemp --suffix=.toml)
printf '[job]\nname = "bench-telemetry"\n[lake]\nurl = "./lake"\n[sources]\notlp = ["%s"]\nspecs = ["%s"]\n[stages]\nsessions = false\nattribution = false\n' \
  "$odir/otlp" "$odir/specs" > "$job"
for threads in 1 2; do
  lake=$(mktemp -d)
  /usr/bin/time -f '%e %M' -o /tmp/driftlake-bench-time "$BIN" run "$job" --lake "$lake" --threads "$threads" --json \
    > /tmp/driftlake-bench-summary.json
  read -r wall rss_kb < /tmp/driftlake-bench-time
  ev=$($PY -c 'import json;print(json.load(open("/tmp/driftlake-bench-summary.json"))["tables"]["evidence"]["rows"])')
  awk -v b="$obytes" -v w="$wall" -v t="$threads" -v n="$ev" -v r="$rss_kb" 'BEGIN {
    printf "driftlake threads=%d wall=%.2fs  %.1f MB/s total  %.1f MB/s per core  %.2f M evidence rows/s  peak RSS %.0f MiB\n",
           t, w, b/1e6/w, b/1e6/w/t, n/w/1e6, r/1024 }'
  if [ "$threads" = 2 ]; then
    /usr/bin/time -f '%e' -o /tmp/driftlake-bench-time "$BIN" run "$job" --lake "$lake" --threads 2 -qq
    echo "rerun, nothing new (no file read; derived tables recomputed from the lake): $(cat /tmp/driftlake-bench-time) s"
    /usr/bin/time -f '%e' -o /tmp/driftlake-bench-time "$BIN" run "$job" --lake "$lake" --threads 2 -qq --full
    echo "rerun --full over the same files (all partitions unchanged): $(cat /tmp/driftlake-bench-time) s"
    /usr/bin/time -f 'report over the materialised evidence lake: %e s, peak RSS %M KiB' \
      "$BIN" report --lake "$lake" --out "$BENCH_DATA/telemetry-report.html"
    /usr/bin/time -f 'gate --fail: %e s' "$BIN" gate --lake "$lake" --fail > /dev/null || true
  fi
  rm -rf "$lake"
done
rm -f "$job"
for threads in 1 2; do
  /usr/bin/time -f '%M' -o /tmp/driftlake-bench-time "$VENV_PY" tools/bench/duckdb_otlp.py "$odir/otlp" --threads "$threads"
  echo "  duckdb peak RSS $(( $(cat /tmp/driftlake-bench-time) / 1024 )) MiB"
done

fi

if want report; then
echo "== report and trends over a generated 90-day lake (generated once into $BENCH_DATA/report-lake-ev) =="
cargo bench --locked --bench report -- "$BENCH_DATA/report-lake-ev"
for i in 1 2 3; do
  /usr/bin/time -f 'driftlake report (default 30-day window): %e s, peak RSS %M KiB' \
      "$BIN" report --lake "$BENCH_DATA/report-lake-ev" --out "$BENCH_DATA/report.html"
done
fi
