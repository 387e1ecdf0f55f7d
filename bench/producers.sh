#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# HTTP batches under more and more producers: one node (`--durability fsync`),
# driven by `cairn bench --node` with each producer count in turn, each on a
# fresh node. For each: messages handled per second, the node's CPU per
# message, writes, and the share of accepted rows consumed by their step in
# the write that accepted them (the rest were written, routed again and
# deleted later: the cost that grows when a stage outruns an actor's window,
# its flights or the steps one request carries).
# Usage: bash bench/producers.sh [build-dir] [messages] [batch] [producers...]
#   e.g. bash bench/producers.sh build 400000 512 4 8 16 32
set -euo pipefail
build=${1:-build}
messages=${2:-400000}
batch=${3:-512}
shift $(($# < 3 ? $# : 3))
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(4 8 16 32)
cairn="$build/tools/cairn/cairn"
[ -x "$cairn" ] || { echo "producers.sh: $cairn is missing: build it first" >&2; exit 1; }
command -v curl >/dev/null || { echo "producers.sh: curl is missing: apt-get install curl" >&2; exit 1; }
tmp=$(mktemp -d)
node=""
trap '[ -z "$node" ] || { kill "$node" 2>/dev/null && wait "$node" 2>/dev/null; }; rm -rf "$tmp"' EXIT

metric() { sed -n "s/^$1 \\([0-9.e+]*\\)$/\\1/p" "$2" | head -n 1; }

printf '%-10s %12s %14s %8s %10s\n' producers "msgs/s" "node us/msg" writes "consumed"
for p in "${counts[@]}"; do
  rm -rf "$tmp/node"
  "$cairn" node --data "$tmp/node" --http 127.0.0.1:0 --durability fsync --no-progress \
    --log-level warn > "$tmp/node.log" 2>&1 &
  node=$!
  for _ in $(seq 100); do grep -q "ready: http" "$tmp/node.log" && break; sleep 0.1; done
  url=$(grep -o "http://127.0.0.1:[0-9]*" "$tmp/node.log" | head -n 1)
  [ -n "$url" ] || { echo "producers.sh: the node did not start:" >&2; cat "$tmp/node.log" >&2; exit 1; }
  "$cairn" bench --node "$url" --messages "$messages" --batch "$batch" --producers "$p" \
    --actors 64 --durability fsync --quiet --json > "$tmp/bench.json"
  curl -fsS "$url/metrics" > "$tmp/metrics.txt"
  kill "$node"
  wait "$node" 2>/dev/null || true
  node=""
  rate=$(sed -n 's/.*"end_to_end_per_s": *\([0-9.]*\).*/\1/p' "$tmp/bench.json" | head -n 1)
  cpu=$(sed -n 's/.*"cpu_us_per_message": *{[^}]*"node": *\([0-9.]*\).*/\1/p' "$tmp/bench.json" | head -n 1)
  writes=$(metric cairn_commits_total "$tmp/metrics.txt")
  unwritten=$(metric cairn_mailbox_rows_unwritten_total "$tmp/metrics.txt")
  printf '%-10s %12.0f %14s %8s %9.1f%%\n' "$p" "$rate" "${cpu:--}" "$writes" \
    "$(awk -v u="${unwritten:-0}" -v m="$messages" 'BEGIN { print 100 * u / m }')"
done
