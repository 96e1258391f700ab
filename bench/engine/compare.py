#!/usr/bin/python3
"""Checks that inferd and ONNX Runtime computed the same outputs for one benchmark point.

Both output files hold, for each model output in order, a uint32 element count and then
the values as float32 (written by inferd_bench.c and ort_bench.js). Outputs agree when
max |inferd - ort| <= 1e-3 * max(1, max |ort|) for every output, i.e. to 1e-3 relative to
the output's magnitude; integer outputs (class labels) therefore have to match exactly.

Prints the largest absolute difference over all outputs; exits 1, saying which output
and by how much, when they disagree.

Usage: /usr/bin/python3 bench/engine/compare.py INFERD.bin ORT.bin
"""
import sys

import numpy as np

RTOL = 1e-3


def read(path):
    raw = open(path, "rb").read()
    outs, off = [], 0
    while off < len(raw):
        n = int(np.frombuffer(raw, np.uint32, 1, off)[0])
        off += 4
        outs.append(np.frombuffer(raw, np.float32, n, off).astype(np.float64))
        off += 4 * n
    return outs


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    got, want = read(sys.argv[1]), read(sys.argv[2])
    if len(got) != len(want):
        sys.exit("outputs differ: inferd wrote %d outputs, ONNX Runtime %d" % (len(got), len(want)))
    worst = 0.0
    for k, (a, b) in enumerate(zip(got, want)):
        if a.shape != b.shape:
            sys.exit("output %d differs in size: inferd %d, ONNX Runtime %d" % (k, a.size, b.size))
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            sys.exit("output %d has non-finite values" % k)
        diff = float(np.max(np.abs(a - b))) if a.size else 0.0
        scale = max(1.0, float(np.max(np.abs(b))) if b.size else 0.0)
        if diff > RTOL * scale:
            sys.exit("output %d disagrees: max |inferd - ort| = %.3g, allowed %.3g" %
                     (k, diff, RTOL * scale))
        worst = max(worst, diff)
    print("%.2g" % worst)


if __name__ == "__main__":
    main()
