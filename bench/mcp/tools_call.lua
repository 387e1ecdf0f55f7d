-- SPDX-License-Identifier: Apache-2.0
-- wrk script: every request is one stateless 2026-07-28 MCP tools/call of
-- `echo`, with the standard headers and the per-request _meta envelope, so
-- no session or initialize is needed. The text can be set after `--`:
--   wrk -t2 -c64 -d10s -s tools_call.lua http://127.0.0.1:PORT/mcp -- "some text"
-- At the end it prints one machine-readable line for mcp_bench.sh:
--   RESULT requests=N duration_us=N rps=N p50_us=N p99_us=N errors=N non2xx=N

local text = "hello from wrk"

local function request_body(t)
  -- The text is JSON-escaped by hand: only quotes and backslashes matter
  -- for the plain texts this benchmark sends.
  local escaped = t:gsub("\\", "\\\\"):gsub("\"", "\\\"")
  return '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo",'
    .. '"arguments":{"text":"' .. escaped .. '"},'
    .. '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
    .. '"io.modelcontextprotocol/clientCapabilities":{}}}}'
end

local function configure(t)
  wrk.method = "POST"
  wrk.body = request_body(t)
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["MCP-Protocol-Version"] = "2026-07-28"
  wrk.headers["Mcp-Method"] = "tools/call"
  wrk.headers["Mcp-Name"] = "echo"
end

configure(text)

function init(args)
  if args[1] ~= nil then configure(args[1]) end
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  local seconds = summary.duration / 1000000
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d errors=%d non2xx=%d\n",
    summary.requests, summary.duration, summary.requests / seconds,
    latency:percentile(50), latency:percentile(99), errors, summary.errors.status))
end
