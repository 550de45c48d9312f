#!/bin/sh
# Compiles the native kernels (matmul.c, attend.c) into dist/, next to the compiled native-library.js that loads
# them; run from the package root by `npm run build` / `prepare`. The flags are part of the kernels'
# bit-identity contract: -ffp-contract=off (a multiply and an add never fuse into an FMA) and no
# -ffast-math; the AVX-512 code is enabled per function (target attributes), so the library loads on
# any x86-64 CPU and reports whether it can run. Without gcc the build goes on without the library
# and the engine uses the WASM kernel, saying why.
set -eu
src="$(dirname "$0")"
out=dist/src/engine/reference/kernels/native
if ! command -v gcc >/dev/null 2>&1; then
  echo "pd-node: gcc not found, native kernels not built (the reference engine will use the WASM kernel; install gcc and run npm run build)" >&2
  exit 0
fi
mkdir -p "$out"
gcc -O2 -ffp-contract=off -fno-fast-math -fPIC -shared -Wall -Wextra -Werror -o "$out/libpd-kernels.so.tmp" "$src/matmul.c" "$src/attend.c"
mv "$out/libpd-kernels.so.tmp" "$out/libpd-kernels.so"
