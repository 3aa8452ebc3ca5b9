#!/usr/bin/env python3
"""Turn one or more results.csv files (RESULT lines from bench) into markdown tables.
With several files (independent runs), each cell is the best GOP/s over the runs, and
ratios use the best reference over the same runs; a failed check in any run is shown."""
import sys, collections

rows = collections.OrderedDict()
shapes = []
info = {}
bad_checks = {}
for path in sys.argv[1:]:
    for line in open(path):
        if not line.startswith("RESULT,"):
            continue
        _, label, nt, shape, M, N, K, ms, gops, check, impl = line.rstrip("\n").split(",", 10)
        if shape not in shapes:
            shapes.append(shape)
        key = (label, int(nt), shape)
        if not (check.startswith("exact") or check.startswith("ok") or check.startswith("maxrel")):
            bad_checks[key] = check
        if key not in rows or float(gops) > rows[key][1]:
            rows[key] = (float(ms), float(gops), check, impl)
        info.setdefault(label, set()).add(impl)
for key, check in bad_checks.items():
    if key in rows:
        rows[key] = rows[key][:2] + (check,) + rows[key][3:]

def cell(label, nt, shape, ref=None):
    r = rows.get((label, nt, shape))
    if r is None or r[0] > 1e20:
        return "-"
    s = f"{r[1]:.0f}"
    if ref:
        b = rows.get((ref, nt, shape))
        if b and b[0] < 1e20:
            s += f" ({r[1] / b[1]:.2f}x)"
    if not (r[2].startswith("exact") or r[2].startswith("ok") or r[2].startswith("maxrel")):
        s += " !" + r[2]
    return s

def table(title, cols, ref, nts=(1, 2), conv_only=False):
    print(f"### {title}\n")
    print("GOP/s (1 multiply-add = 2 ops); in brackets the ratio to `%s` (with several runs: best over the runs for both).\n" % ref)
    hdr = ["threads", "shape (Cout, P, K)"] + [c for c in cols]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for nt in nts:
        for sh in shapes:
            if conv_only and not any((c, nt, sh) in rows for c in cols if c.startswith(("conv", "im2col"))):
                continue
            if not any((c, nt, sh) in rows for c in cols):
                continue
            r = next(v for k, v in rows.items() if k[2] == sh)
            print(f"| {nt} | {sh} | " + " | ".join(cell(c, nt, sh, None if c == ref else ref) for c in cols) + " |")
    print()

table("A. AVX2-only paths (what an AVX2 machine such as Zen 3 runs)",
      ["sgemm_avx2", "u8s8_avx2", "dnnl_s8_avx2", "dnnl_f32_avx2", "u8s8_c"], "sgemm_avx2")
table("B. Native paths of this CPU (AVX-512 + AVX512-VNNI)",
      ["sgemm", "u8s8_vnni", "u8s8_avx2", "dnnl_s8", "dnnl_f32"], "sgemm")
table("C1. 3x3 convolutions, AVX2 only: oneDNN direct conv vs im2col + GEMM",
      ["conv_f32_avx2", "conv_s8_avx2", "conv_s8u8_avx2", "im2col_avx2", "u8s8_avx2", "dnnl_s8_avx2", "sgemm_avx2"],
      "conv_f32_avx2", conv_only=True)
table("C2. 3x3 convolutions, native ISA: oneDNN direct conv vs im2col + GEMM",
      ["conv_f32", "conv_s8", "conv_s8u8", "im2col_vnni", "u8s8_vnni", "dnnl_s8", "sgemm"],
      "conv_f32", conv_only=True)
print(f"Runs combined: {len(sys.argv) - 1} ({', '.join(sys.argv[1:])})\n")
print("### Implementations\n")
for k, v in info.items():
    print(f"- `{k}`: " + ", ".join(sorted(x for x in v if x)))
