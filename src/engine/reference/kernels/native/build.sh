#!/bin/sh
# Compiles the native kernels (matmul.c, attend.c, elementwise.c, huge-pages.c) into dist/, next to the compiled
# native-library.js that loads them; run from the package root by `npm run build` / `prepare`. The
# flags are part of the kernels' bit-identity contract: -ffp-contract=off (a multiply and an add never
# fuse into an FMA) and no -ffast-math; the AVX-512 code is enabled per function (target attributes),
# so the library loads on any x86-64 CPU and reports whether it can run.
# Where it cannot be built (not x86-64, no gcc) the build still succeeds, since the engine runs the
# bit-identical WASM kernel there: this script says so on stderr and writes the reason to NOT-BUILT,
# which the engine's fallback warning repeats (and which lets the native tests skip, where a missing
# library without it fails them). A compiler error fails the build.
set -eu
src="$(dirname "$0")"
out=dist/src/engine/reference/kernels/native
mkdir -p "$out"
rm -f "$out/NOT-BUILT"
skip() {
  echo "pd-node: native kernels NOT built: $1; the reference engine will use the WASM kernel (bit-identical, slower)" >&2
  rm -f "$out/libpd-kernels.so"
  echo "$1" >"$out/NOT-BUILT"
  exit 0
}
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || skip "they are built for Linux on x86-64, this is $(uname -s)-$(uname -m)"
command -v gcc >/dev/null 2>&1 || skip "gcc was not found at build time (install gcc and run npm run build)"
gcc -O2 -ffp-contract=off -fno-fast-math -fPIC -shared -Wall -Wextra -Werror -o "$out/libpd-kernels.so.tmp" "$src/matmul.c" "$src/attend.c" "$src/elementwise.c" "$src/huge-pages.c"
mv "$out/libpd-kernels.so.tmp" "$out/libpd-kernels.so"
