#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# HTTP acceptance against in-process acceptance, in one run, on this machine.
#   POST /api/v1/actors/{id}/messages with 64 keep-alive connections (wrk),
#   beside runtime::accept from 64 threads (cairn_accept_bench).
# Nothing is processed in either (max_active 0): both measure acceptance.
# Usage: bash bench/http_bench.sh [build-dir] [seconds] [os|fsync]
set -euo pipefail
build=${1:-build}
secs=${2:-10}
mode=${3:-os}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'kill $node 2>/dev/null || true; rm -rf "$tmp"' EXIT

"$build/bench/cairn_accept_bench" "$tmp/inproc" 64 "$secs" "$mode" | tee "$tmp/inproc.txt"

"$build/tools/cairn/cairn" node --data "$tmp/node" --http 127.0.0.1:0 --durability "$mode" \
  --max-active 0 --max-pending 100000000 --no-progress --log-level warn > "$tmp/node.log" 2>&1 &
node=$!
for _ in $(seq 100); do grep -q "ready: http" "$tmp/node.log" && break; sleep 0.1; done
url=$(grep -o "http://127.0.0.1:[0-9]*" "$tmp/node.log")
cat > "$tmp/post.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  local body = '{"type":"demo.place_order/v1","payload":{"customer":"c1","sku":"sku-milk","region":"north","quantity":2}}'
  return wrk.format("POST", "/api/v1/actors/order%2Fb" .. (n % 256) .. "/messages",
                    {["Content-Type"] = "application/json"}, body)
end
LUA
wrk -t2 -c64 -d"${secs}s" --latency -s "$tmp/post.lua" "$url" | tee "$tmp/wrk.txt"
http_rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.txt")
inproc_rps=$(grep -o '[0-9]* msgs/s' "$tmp/inproc.txt" | awk '{print $1}')
non2xx=$(awk '/Non-2xx/ {print $4}' "$tmp/wrk.txt")
echo "HTTP ${http_rps} req/s vs in-process ${inproc_rps} msgs/s: ratio $(awk -v a="$http_rps" -v b="$inproc_rps" 'BEGIN {printf "%.2f", a/b}') (non-2xx: ${non2xx:-0})"
