#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs one MCP test script under Node 22 with the official SDKs:
#   tests/mcp/run.sh SCRIPT.mjs ARGS...
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
node="$(bash "$here/../conformance/ensure-tools.sh")"
script="$1"
shift
exec "$node" "$here/$script" "$@"
