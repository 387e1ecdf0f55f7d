#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the official MCP conformance suite against a real cairn node:
#   tests/conformance/run.sh CAIRN_BINARY
# Installs the pinned suite and Node 22 from npm (package-lock.json) into
# this folder, starts `cairn node --profile conformance` on a free port,
# then runs --requirements 2025-11-25, --requirements 2026-07-28 and each
# tasks-* extension scenario. Any failing check, scored or not, fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cairn="$(realpath "${1:?usage: run.sh CAIRN_BINARY}")"
cd "$here"
node="$(bash "$here/ensure-tools.sh")"
suite="$here/node_modules/.bin/conformance"

work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$cairn" node --data "$work/data" --http 127.0.0.1:0 --profile conformance --no-progress \
  >"$work/node.out" 2>"$work/node.err" &
pid=$!
for _ in $(seq 1 300); do
  grep -q "cairn node ready" "$work/node.out" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/node.err"; echo "conformance: the node exited"; exit 1; }
  sleep 0.1
done
port="$(grep -o 'http://127.0.0.1:[0-9]*' "$work/node.out" | head -1 | sed 's/.*://')"
[ -n "$port" ] || { echo "conformance: the node did not start"; cat "$work/node.err"; exit 1; }
# The DNS rebinding scenario needs a loopback host name in the URL.
url="http://localhost:$port/mcp"
echo "conformance: cairn node on $url"

failed=0
run() {
  local name="$1"; shift
  local log="$work/$name.log"
  if ! "$node" "$suite" server --url "$url" "$@" >"$log" 2>&1; then
    failed=1
  fi
  # Unscored scenarios never change the suite's exit code: fail on any ✗.
  if grep -q "✗" "$log"; then failed=1; fi
  local total
  total="$(grep -E '^(Total|Passed):' "$log" | tail -1 || true)"
  printf '%-34s %s\n' "$name" "${total:-see log}"
  if grep -q "✗\|FAILURE" "$log" || [ "$failed" = 1 ]; then
    grep -E "✗|FAILURE|errorMessage" "$log" | head -20 || true
  fi
}
run requirements-2025-11-25 --requirements 2025-11-25
run requirements-2026-07-28 --requirements 2026-07-28
for scenario in $("$node" "$suite" list 2>/dev/null | grep -o 'tasks-[a-z-]*' | sort -u); do
  run "$scenario" --scenario "$scenario"
done
if ! kill -0 "$pid" 2>/dev/null; then
  echo "conformance: the node died during the run"; cat "$work/node.err"; exit 1
fi
if [ "$failed" != 0 ]; then
  echo "conformance: FAILED"
  exit 1
fi
echo "conformance: all scenarios passed"
