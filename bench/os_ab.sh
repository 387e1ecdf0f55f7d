#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The `os` goal, end to end against the raw RocksDB cycle, for one build or
# two side by side. This machine's speed swings by up to 2x between phases,
# so each round runs the raw cycle, then each build, one after the other,
# and the ratios are taken within a round; the medians close the report.
# Usage: bash bench/os_ab.sh [rounds] [build-dir] [other cairn binary]
#   e.g. bash bench/os_ab.sh 4 build /tmp/cairn-before
# CAIRN_BENCH_FLAGS adds `cairn bench` flags to every run of both builds
# (e.g. "--producers 8": more batches in flight).
set -euo pipefail
rounds=${1:-3}
build=${2:-build}
other=${3:-}
raw_bench="$build/bench/cairn_core_bench"
cairn="$build/tools/cairn/cairn"
for bin in "$raw_bench" "$cairn" ${other:+"$other"}; do
  [ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "python3 is missing" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One embedded run: msgs/s end to end, CPU per message, and by thread.
run_cairn() {
  # shellcheck disable=SC2086 # the flags are words
  "$1" bench --embedded --durability os --messages 300000 --batch 64 --json --quiet \
    ${CAIRN_BENCH_FLAGS:-} 2>/dev/null > "$tmp/run.json"
  python3 - "$tmp/run.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
threads = d.get("cpu_us_per_message_by_thread", {})
top = ", ".join(f"{k} {v}" for k, v in list(threads.items())[:4])
print(d["end_to_end_per_s"], d["cpu_us_per_message"]["process"], top, sep="\t")
PY
}

names=("this build")
bins=("$cairn")
if [ -n "$other" ]; then names+=("$other"); bins+=("$other"); fi
: > "$tmp/ratios"
for r in $(seq "$rounds"); do
  raw=$("$raw_bench" --only a 2>/dev/null | awk '/batch 64,  no sync :/ {print $(NF-1)}')
  [ -n "$raw" ] || { echo "the raw cycle printed no figure" >&2; exit 1; }
  printf 'round %d: raw cycle %s msgs/s\n' "$r" "$raw"
  for i in "${!bins[@]}"; do
    IFS=$'\t' read -r rate cpu top < <(run_cairn "${bins[$i]}")
    ratio=$(python3 -c "print(f'{$rate / $raw:.2f}')")
    printf '  %-22s %8s msgs/s  %sx  %s us/msg  (%s)\n' "${names[$i]}" "$rate" "$ratio" "$cpu" "$top"
    printf '%s\t%s\t%s\n' "$i" "$ratio" "$cpu" >> "$tmp/ratios"
  done
done
python3 - "$tmp/ratios" "${names[@]}" <<'PY'
import statistics, sys
rows = [line.split("\t") for line in open(sys.argv[1]).read().split("\n") if line]
for i, name in enumerate(sys.argv[2:]):
    mine = [r for r in rows if int(r[0]) == i]
    ratios = [float(r[1]) for r in mine]
    cpus = [float(r[2]) for r in mine]
    print(f"median {name}: {statistics.median(ratios):.2f}x the raw cycle, "
          f"{statistics.median(cpus):.1f} us CPU per message ({len(mine)} rounds; goal 0.8x)")
PY
