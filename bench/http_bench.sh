#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# HTTP acceptance against in-process acceptance, in one run, on this machine.
#   POST /api/v1/actors/{id}/messages with 64 keep-alive connections (wrk),
#   beside runtime::accept from 64 threads (cairn_accept_bench).
# Nothing is processed in either (max_active 0): both measure acceptance.
# Then the same node's HTTP floor: GET /healthz, answered from memory on the
# I/O thread through the same server and routes, with nothing stored: what
# this machine's loopback TCP and wrk leave for any HTTP request. Last, what
# one system call costs here.
# Usage: bash bench/http_bench.sh [build-dir] [seconds] [os|fsync] [node flags...]
#   e.g. bash bench/http_bench.sh build 10 os --scheduler stealing
set -euo pipefail
build=${1:-build}
secs=${2:-10}
mode=${3:-os}
shift $(($# < 3 ? $# : 3))
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
tmp=$(mktemp -d)
# The node is waited for before its data is removed: it may still be writing.
node=""
trap '[ -z "$node" ] || { kill "$node" 2>/dev/null && wait "$node" 2>/dev/null; }; rm -rf "$tmp"' EXIT

"$build/bench/cairn_accept_bench" "$tmp/inproc" 64 "$secs" "$mode" | tee "$tmp/inproc.txt"

"$build/tools/cairn/cairn" node --data "$tmp/node" --http 127.0.0.1:0 --durability "$mode" \
  --max-active 0 --max-pending 100000000 --no-progress --log-level warn "$@" > "$tmp/node.log" 2>&1 &
node=$!
for _ in $(seq 100); do grep -q "ready: http" "$tmp/node.log" && break; sleep 0.1; done
url=$(grep -o "http://127.0.0.1:[0-9]*" "$tmp/node.log" | head -n 1)
cat > "$tmp/post.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  local body = '{"type":"demo.place_order/v1","payload":{"customer":"c1","sku":"sku-milk","region":"north","quantity":2}}'
  return wrk.format("POST", "/api/v1/actors/order%2Fb" .. (n % 256) .. "/messages",
                    {["Content-Type"] = "application/json"}, body)
end
LUA
# CPU of the node (from /proc, in clock ticks) and of wrk (the subshell's children, from `times`)
# over the run: both share this machine's cores.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The node's write path, which in-process acceptance runs too: the commit thread and RocksDB's
# flush and compaction threads (a thread's name is in its stat's second field, in parentheses).
write_ticks() {
  cat /proc/"$1"/task/*/stat 2>/dev/null |
    awk '/\((cairn\.commit|rocksdb:[^)]*)\)/ {sub(/^.*\) /, ""); n += $12 + $13} END {print n + 0}'
}
node_t0=$(ticks "$node")
write_t0=$(write_ticks "$node")
(
  wrk -t2 -c64 -d"${secs}s" --latency -s "$tmp/post.lua" "$url" | tee "$tmp/wrk.txt"
  times > "$tmp/times.txt"
)
node_t1=$(ticks "$node")
write_t1=$(write_ticks "$node")
http_rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.txt")
requests=$(awk '/requests in/ {print $1}' "$tmp/wrk.txt")
# `times` prints "XmY.Ys XmY.Ys" (user, system) for the shell, then for its children.
wrk_s=$(awk 'NR == 2 {n = 0; for (i = 1; i <= 2; ++i) {split($i, a, /[ms]/); n += a[1] * 60 + a[2]}; print n}' "$tmp/times.txt")
tck=$(getconf CLK_TCK)
echo "CPU per request: node $(awk -v d=$((node_t1 - node_t0)) -v t="$tck" -v r="$requests" 'BEGIN {printf "%.1f", d / t * 1e6 / r}') us, wrk $(awk -v s="$wrk_s" -v r="$requests" 'BEGIN {printf "%.1f", s * 1e6 / r}') us ($(nproc) cores)"
inproc_rps=$(grep -o '[0-9]* msgs/s' "$tmp/inproc.txt" | awk '{print $1}')
non2xx=$(awk '/Non-2xx/ {print $4}' "$tmp/wrk.txt")
echo "HTTP ${http_rps} req/s vs in-process ${inproc_rps} msgs/s: ratio $(awk -v a="$http_rps" -v b="$inproc_rps" 'BEGIN {printf "%.2f", a/b}') (non-2xx: ${non2xx:-0})"
floor_t0=$(ticks "$node")
wrk -t2 -c64 -d"${secs}s" "$url/healthz" > "$tmp/floor.txt"
floor_t1=$(ticks "$node")
floor_rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/floor.txt")
floor_n=$(awk '/requests in/ {print $1}' "$tmp/floor.txt")
echo "HTTP floor (GET /healthz, nothing stored): ${floor_rps} req/s, node $(awk -v d=$((floor_t1 - floor_t0)) -v t="$tck" -v r="$floor_n" 'BEGIN {printf "%.1f", d / t * 1e6 / r}') us CPU per request: $(awk -v a="$floor_rps" -v b="$inproc_rps" 'BEGIN {printf "%.2f", a/b}') of in-process acceptance"
# What HTTP acceptance cannot cost less than on these cores: wrk's CPU, the floor's, and the
# write path's (which in-process acceptance pays as well), as if nothing else (the request's
# JSON, its envelope, the answer) cost anything. Cutting the write path speeds both sides.
awk -v w="$wrk_s" -v r="$requests" -v fd=$((floor_t1 - floor_t0)) -v fn="$floor_n" \
  -v pd=$((write_t1 - write_t0)) -v t="$tck" -v c="$(nproc)" -v b="$inproc_rps" 'BEGIN {
  wrk = w * 1e6 / r; floor = fd / t * 1e6 / fn; path = pd / t * 1e6 / r; all = wrk + floor + path
  printf "bound: wrk %.1f + floor %.1f + write path %.1f (commit thread, RocksDB) = %.1f us a request on %d cores: at most %.0f req/s, %.2f of in-process acceptance\n", wrk, floor, path, all, c, c * 1e6 / all, c * 1e6 / all / b
}'
# What one system call costs on this machine (a virtual machine may make it ten
# times a bare one's): every request above costs several on each side.
python3 - <<'PY'
import os, time
n = 1_000_000
def per_call(f):
    t = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t) / n * 1e6
loop = per_call(int)
print("a system call here: %.2f us (getppid, 1,000,000 calls, less the loop's own %.2f us)"
      % (per_call(os.getppid) - loop, loop))
PY
