#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `cpack -G DEB` over a built tree: the package holds the `cairn` binary,
# depends on the Debian packages of the libraries it links, and the binary
# unpacked from it runs.
#   tests/sdk/package.sh BUILD_DIR
set -euo pipefail
build="$(cd "$1" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/cairn-deb-XXXXXX")"
trap 'rm -rf "$work"' EXIT
(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log") \
  || { cat "$work/cpack.log"; exit 1; }
deb="$(find "$work/out" -maxdepth 1 -name 'cairn_*.deb' | head -n1)"
[ -n "$deb" ] || { echo "FAIL: no cairn_*.deb in $work/out"; ls -la "$work/out"; exit 1; }
echo "package: $(basename "$deb")"
dpkg-deb -f "$deb" Package Version Architecture Depends
contents="$(dpkg-deb -c "$deb")"
grep -q '\./usr/bin/cairn$' <<<"$contents" || { echo "FAIL: no /usr/bin/cairn in:"; echo "$contents"; exit 1; }
if grep -q '\./usr/include/' <<<"$contents"; then
  echo "FAIL: the binary's package carries headers"; exit 1
fi
depends="$(dpkg-deb -f "$deb" Depends)"
for lib in libcaf-core librocksdb libboost-json; do
  grep -q "$lib" <<<"$depends" || { echo "FAIL: Depends lacks $lib: $depends"; exit 1; }
done
dpkg-deb -x "$deb" "$work/root"
"$work/root/usr/bin/cairn" --version
"$work/root/usr/bin/cairn" node --help | grep -q -- '--data' \
  || { echo "FAIL: the packaged cairn has no node command"; exit 1; }
echo "ok: the package installs /usr/bin/cairn, which runs"
