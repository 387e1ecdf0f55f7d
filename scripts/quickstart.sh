#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what is missing, builds cairn in Release and starts a node on its
# embedded defaults (data in ./cairn-data, nothing but loopback) running the
# delivery demo with a live progress line. Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target cairn
exec ./build/tools/cairn/cairn node --data cairn-data --demo "$@"
