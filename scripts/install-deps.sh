#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs cairn's build and test dependencies from Debian bookworm packages.
# Safe to re-run: it only installs what is missing.
set -euo pipefail
# Usage: install-deps.sh [--test]   (--test adds what only the tests need)
pkgs=(g++ cmake ninja-build ccache clang-format libvalijson-dev
      libcaf-dev librocksdb-dev libboost1.81-dev libboost-json1.81-dev
      libcli11-dev libspdlog-dev libfmt-dev catch2 pkg-config
      libjemalloc-dev)  # the node's allocator (CMake option CAIRN_JEMALLOC)
if [ "${1:-}" = "--test" ]; then
  pkgs+=(prometheus)  # promtool, for the metrics format test
  pkgs+=(etcd-server)  # the cluster's coordination, started by the cluster tests
  pkgs+=(clang-14 libclang-rt-14-dev)  # libFuzzer, for the MCP fuzz target
  pkgs+=(chromium)  # the browser the console test drives (playwright-core, from npm)
  pkgs+=(doxygen dpkg-dev)  # the API reference (warnings fail it); cpack's dpkg-shlibdeps
  # npm fetches the pinned MCP conformance suite, Node 22 and the official SDKs.
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "cairn: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
