#!/bin/sh
# Build the int8 study: library object, exactness test, benchmark, peak probe.
# No -march: the file is portable x86-64; SIMD paths are enabled per function with
# __attribute__((target(...))) and picked at run time with __builtin_cpu_supports.
set -eu
cd "$(dirname "$0")"
CC=${CC:-gcc}
CFLAGS=${CFLAGS:-"-O3 -fopenmp -Wall -Wextra"}
$CC $CFLAGS -c gemm_u8s8.c -o gemm_u8s8.o
$CC $CFLAGS test.c gemm_u8s8.o -o test_gemm
$CC $CFLAGS bench.c gemm_u8s8.o -o bench -ldnnl -lopenblas -lm
$CC -O2 peak.c -o peak
# keep the generated microkernels for inspection
objdump -d --no-show-raw-insn gemm_u8s8.o > gemm_u8s8.asm
echo "built: test_gemm bench peak"
