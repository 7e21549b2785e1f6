"""The per-layer part of tools/gpu_check.sh's table: Google Benchmark JSON from bench/bench_cuda, with every
`BM_x/ours_cuda/...` benchmark set beside its vendor twin (`BM_x/cudnn/...` or `BM_x/cublas/...`) as a ratio.

    python3 tools/gpu_summary.py OUT/bench_cuda.json

Ratio = vendor time / our time: above 1 we are faster. TFLOP/s and GB/s are the benchmarks' own counters.
"""
import json
import sys

VENDORS = ("cudnn", "cublas")


def to_ms(b):
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
    return b["real_time"] * scale


def main(path):
    with open(path) as f:
        runs = [b for b in json.load(f)["benchmarks"] if b.get("run_type", "iteration") == "iteration"]
    by_name = {b["name"]: b for b in runs}
    rows = []
    for name, b in by_name.items():
        if "/ours_cuda/" not in name:
            continue
        twins = [name.replace("/ours_cuda/", "/" + v + "/") for v in VENDORS]
        twin = next((by_name[t] for t in twins if t in by_name), None)
        base = name.replace("/ours_cuda", "")
        rate = b.get("TFLOP/s") or b.get("GB/s") or 0.0
        unit = "TFLOP/s" if "TFLOP/s" in b else "GB/s" if "GB/s" in b else ""
        ours_ms = to_ms(b)
        vendor_ms = to_ms(twin) if twin else float("nan")
        rows.append((base, ours_ms, vendor_ms, vendor_ms / ours_ms, rate, unit))
    if not rows:
        print("gpu_summary: no ours_cuda benchmarks in", path)
        return
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'ours ms':>9}  {'vendor ms':>9}  {'ratio':>6}  rate")
    for base, ours, vendor, ratio, rate, unit in rows:
        print(f"{base:<{width}}  {ours:9.3f}  {vendor:9.3f}  {ratio:6.2f}  {rate:.1f} {unit}")


if __name__ == "__main__":
    main(sys.argv[1])
