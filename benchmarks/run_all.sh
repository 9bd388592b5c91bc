#!/usr/bin/env bash
# The whole benchmark suite, in one command (see benchmarks/README.md).
#
#   benchmarks/run_all.sh            # full suite, about 18 min on 2 lightly loaded CPU cores
#   benchmarks/run_all.sh --quick    # smaller sizes and fewer repeats, about 8 min
#   benchmarks/run_all.sh --out DIR  # results folder (default results/benchmarks/suite)
#   benchmarks/run_all.sh --only training,workflow   # a subset: training, workflow,
#                                                    # retrieval, startup, cached_features, extraction
#
# Each benchmark writes its log (and, where it can, .md/.json) under the results folder;
# SUMMARY.md collects the markdown of all of them with the machine, date and run times.
# A failing benchmark is reported and the suite goes on; the exit status is 1 if any failed.
# The machine's load average is recorded: timings on a shared machine are noisy, so read
# the CPU-time columns and the side-by-side ratios rather than single wall-clock figures.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
if [[ -z "${VIRTUAL_ENV:-}" && -f .venv/bin/activate ]]; then
  # shellcheck disable=SC1091
  source .venv/bin/activate
fi

QUICK=""
OUT="results/benchmarks/suite"
ONLY="training,workflow,retrieval,startup,cached_features,extraction"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK="--quick"; shift ;;
    --out) OUT="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"

wanted() { [[ ",$ONLY," == *",$1,"* ]]; }

declare -a NAMES=() STATUS=() SECONDS_TAKEN=()
run() {  # run NAME CMD...: log to $OUT/NAME.log, remember status and duration
  local name="$1"; shift
  echo "=== $name: $*"
  local t0=$SECONDS
  "$@" 2>&1 | grep --line-buffered -v -E '^(USDT|ERROR):.*(SyncActivityProfiler|DeviceProperties)' \
    | tee "$OUT/$name.log"
  local rc=${PIPESTATUS[0]}
  NAMES+=("$name"); STATUS+=("$rc"); SECONDS_TAKEN+=($((SECONDS - t0)))
  echo "=== $name: exit $rc, $((SECONDS - t0)) s"
}

START=$(date -Iseconds)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$SECONDS

if wanted training; then
  run bench_training python benchmarks/bench_training.py $QUICK --out "$OUT"
fi
if wanted workflow; then
  run bench_workflow python benchmarks/bench_workflow.py $QUICK --out "$OUT"
fi
if wanted retrieval && [[ -f benchmarks/bench_retrieval.py ]]; then
  if [[ -n "$QUICK" ]]; then
    run bench_retrieval env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
      python benchmarks/bench_retrieval.py --n 5000 --repeats 1 --json "$OUT/bench_retrieval.json"
  else
    run bench_retrieval env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
      python benchmarks/bench_retrieval.py --methods ours ours_map faiss faiss_skx faiss_map \
      --json "$OUT/bench_retrieval.json"
  fi
fi
if wanted startup; then
  run bench_startup python benchmarks/bench_startup.py --runs "$([[ -n "$QUICK" ]] && echo 3 || echo 7)" \
    --json "$OUT/bench_startup.json"
fi
if wanted cached_features && [[ -f benchmarks/bench_cached_features.py ]]; then
  if [[ -n "$QUICK" ]]; then
    run bench_cached_features python benchmarks/bench_cached_features.py --n 64 --repeats 1 --cached-repeats 5
  else
    run bench_cached_features python benchmarks/bench_cached_features.py
  fi
fi
if wanted extraction && [[ -f benchmarks/bench_extraction.py ]]; then
  run bench_extraction python benchmarks/bench_extraction.py $QUICK --out "$OUT"
fi

{
  echo "# Benchmark suite summary"
  echo
  echo "- date: $START (finished $(date -Iseconds))"
  echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "- load average (1/5/15 min) at start: $LOAD0; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- command: benchmarks/run_all.sh $QUICK --out $OUT --only $ONLY"
  echo "- total: $((SECONDS - T0)) s"
  echo
  echo "| benchmark | exit | seconds |"
  echo "|---|---|---|"
  for i in "${!NAMES[@]}"; do
    echo "| ${NAMES[$i]} | ${STATUS[$i]} | ${SECONDS_TAKEN[$i]} |"
  done
  for name in "${NAMES[@]}"; do
    echo
    echo "## $name"
    echo
    if [[ -f "$OUT/$name.md" ]]; then
      cat "$OUT/$name.md"
    else
      echo '```'
      tail -n 60 "$OUT/$name.log"
      echo '```'
    fi
  done
} > "$OUT/SUMMARY.md"

echo
echo "suite finished in $((SECONDS - T0)) s; summary: $OUT/SUMMARY.md"
for s in "${STATUS[@]}"; do
  [[ "$s" == 0 ]] || exit 1
done
exit 0
