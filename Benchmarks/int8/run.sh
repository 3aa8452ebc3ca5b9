#!/bin/bash
# Reproduce the int8 study: build, exactness test, oneDNN probes/verbose logs, timings,
# and the summary tables. Output goes to logs/ (or $LOGDIR).
#   WAIT_FOR_IDLE=1 ./run.sh   waits (30 s polls, up to 60 min) until no CI process runs.
#   SHAPE=fpn ./run.sh         restricts the timed shapes to names containing "fpn".
#   RUNS=3 ./run.sh            independent timing runs (default 3); logs/table.md takes the
#                              best of the runs per cell, logs/table.runN.md is run N alone.
#   LOGDIR=dir ./run.sh        writes somewhere other than logs/.
# peak.c (clock and instruction throughput) is built and run too.
set -u
cd "$(dirname "$0")"
L=${LOGDIR:-logs}; mkdir -p $L
./build.sh

echo "== exactness test"
./test_gemm | tee $L/test.txt

{ grep -m1 "model name" /proc/cpuinfo; grep -m1 "cpu family" /proc/cpuinfo; grep -m1 "^model\s" /proc/cpuinfo
  grep -m1 flags /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512bw|avx512vl|avx512_vnni|avx_vnni|avx512_bf16|amx)' | tr '\n' ' '; echo
  echo "cores: $(nproc)"; lscpu | grep -E "L1d|L2|L3|MHz"; } > $L/cpu.txt

# oneDNN and gemm_u8s8 both use libgomp. Unbound, its 2 threads sometimes share one vCPU
# for a whole process and every parallel region then stalls ~5-8 ms (seen on this VM);
# binding them avoids it. The sgemm runs must NOT have it: libgomp (loaded with libdnnl)
# then pins the main thread to one CPU and OpenBLAS's pthreads inherit that mask, so
# 2-thread sgemm ran on one core. run() drops the two variables for sgemm.
export OMP_PROC_BIND=${OMP_PROC_BIND:-close} OMP_PLACES=${OMP_PLACES:-cores}

CI_PATTERN='swift-test|swift-build|swift-frontend|\.ci/run|xctest'
if [ "${WAIT_FOR_IDLE:-0}" = 1 ]; then
  for i in $(seq 120); do pgrep -f "$CI_PATTERN" >/dev/null || break; sleep 30; done
fi
if pgrep -f "$CI_PATTERN" >/dev/null; then LOADNOTE="UNDER LOAD (CI running)"; else LOADNOTE="idle (no CI process)"; fi
echo "timing started $(date -u +%FT%TZ), machine $LOADNOTE, loadavg $(cat /proc/loadavg)" | tee $L/load.txt

./peak | tee $L/peak.txt
echo "== oneDNN probes and verbose (implementation names)"
{ ./bench probe 1; ONEDNN_MAX_CPU_ISA=AVX2 ./bench probe 1; } | tee $L/probe.txt
: > $L/verbose.txt
for isa in ALL AVX2; do
  for impl in dnnl_s8 dnnl_f32 conv_s8 conv_s8u8 conv_f32; do
    for shp in r50.l4 mbv3; do
      case $impl in conv_*) [ $shp = mbv3 ] && continue;; esac
      echo "# ONEDNN_MAX_CPU_ISA=$isa ./bench $impl 1 $shp" >> $L/verbose.txt
      ONEDNN_MAX_CPU_ISA=$isa ONEDNN_VERBOSE=1 ./bench $impl 1 $shp 2>&1 | grep -E "^onednn_verbose,(info|exec)" | awk -F, '!seen[$2","$4","$5","$7]++' | head -12 >> $L/verbose.txt
    done
  done
done

echo "== timings"
run() { # label threads env... -- impl
  local label=$1 nt=$2; shift 2
  local envs=(); while [ "$1" != "--" ]; do envs+=("$1"); shift; done; shift
  local impl=$1
  [ "$impl" = sgemm ] && envs=(-u OMP_PROC_BIND -u OMP_PLACES "${envs[@]}")
  env "${envs[@]}" ./bench "$impl" "$nt" ${SHAPE:-} | sed "s/^RESULT,$impl,/RESULT,$label,/" | tee -a $RES
}
RUNS=${RUNS:-3}
for r in $(seq $RUNS); do
RES=$L/results.run$r.csv
: > $RES
echo "run $r started $(date -u +%FT%TZ), CI running: $(pgrep -f "$CI_PATTERN" >/dev/null && echo yes || echo no), loadavg $(cat /proc/loadavg)" | tee -a $L/load.txt
for nt in 1 2; do
  run sgemm_avx2   $nt OPENBLAS_CORETYPE=Zen -- sgemm
  run sgemm        $nt -- sgemm
  run u8s8_avx2    $nt -- u8s8_avx2
  run u8s8_vnni    $nt -- u8s8_vnni
  run dnnl_s8_avx2  $nt ONEDNN_MAX_CPU_ISA=AVX2 -- dnnl_s8
  run dnnl_f32_avx2 $nt ONEDNN_MAX_CPU_ISA=AVX2 -- dnnl_f32
  run dnnl_s8      $nt -- dnnl_s8
  run dnnl_f32     $nt -- dnnl_f32
  run conv_f32_avx2  $nt ONEDNN_MAX_CPU_ISA=AVX2 -- conv_f32
  run conv_s8_avx2   $nt ONEDNN_MAX_CPU_ISA=AVX2 -- conv_s8
  run conv_s8u8_avx2 $nt ONEDNN_MAX_CPU_ISA=AVX2 -- conv_s8u8
  run conv_f32     $nt -- conv_f32
  run conv_s8      $nt -- conv_s8
  run conv_s8u8    $nt -- conv_s8u8
  run im2col_avx2  $nt -- im2col_avx2
  run im2col_vnni  $nt -- im2col_vnni
done
[ $r = 1 ] && run u8s8_c 1 -- u8s8_c
python3 summarize.py $RES > $L/table.run$r.md
done
echo "timing ended $(date -u +%FT%TZ), loadavg $(cat /proc/loadavg); CI running at end: $(pgrep -f "$CI_PATTERN" >/dev/null && echo yes || echo no)" | tee -a $L/load.txt

python3 summarize.py $L/results.run*.csv > $L/table.md
cat $L/table.md
