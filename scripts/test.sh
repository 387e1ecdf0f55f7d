#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what is missing, builds everything (Release, Ninja) and runs the
# whole test suite through CTest. Usage: bash scripts/test.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bash scripts/install-deps.sh --test
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release ${CAIRN_CMAKE_ARGS:-} >/dev/null
cmake --build "$build"
ctest --test-dir "$build" --output-on-failure --timeout 900 -j "${CAIRN_TEST_JOBS:-1}"
