#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the built cairn into a temporary prefix (`cmake --install`), then
# builds each example of tools/examples/ against it as its own CMake project
# (`find_package(cairn CONFIG REQUIRED)`), builds the counter example once
# more with pkg-config alone, and runs examples.mjs over the three nodes.
#   tests/sdk/examples.sh BUILD_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$(cd "$1" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/cairn-sdk-XXXXXX")"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

echo "== cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
for f in bin/cairn include/cairn/node.hpp lib/cmake/cairn/cairnConfig.cmake \
         lib/cmake/cairn/cairnConfigVersion.cmake lib/pkgconfig/cairn.pc lib/libcairn_core.a; do
  [ -e "$prefix/$f" ] || { echo "FAIL: $f was not installed"; exit 1; }
done
# Only public headers: nothing from a library's src/ or internal/.
if find "$prefix/include" -path '*internal*' | grep -q .; then
  echo "FAIL: internal headers were installed:"; find "$prefix/include" -path '*internal*'; exit 1
fi

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
for ex in counter trip tool; do
  echo "== building tools/examples/$ex against $prefix"
  cmake -G Ninja -S "$root/tools/examples/$ex" -B "$work/$ex" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" "${launcher[@]}" >"$work/$ex.configure.log" \
    || { cat "$work/$ex.configure.log"; exit 1; }
  cmake --build "$work/$ex"
done

echo "== building the counter example with pkg-config alone"
flags="$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs cairn)"
# shellcheck disable=SC2086
c++ -O1 -o "$work/counter-pc" "$root/tools/examples/counter/counter.cpp" $flags
version="$("$work/counter-pc" --version)"
[[ "$version" == cairn\ * ]] || { echo "FAIL: counter-pc --version printed '$version'"; exit 1; }
echo "counter-pc --version: $version"

echo "== running the examples"
bash "$root/tests/mcp/run.sh" ../sdk/examples.mjs --counter "$work/counter/counter-node" \
  --trip "$work/trip/trip-node" --tool "$work/tool/word-stats-node"
