"""Whole-network CPU speed and peak memory of hardtune against PyTorch (eager, and jit-frozen for inference).

Run with Debian's interpreter (it has torch), after building bench/compare_models:
    /usr/bin/python3 bench/compare_torch.py [--build-dir build] [--nets resnet34_dlas_a,ir50_dlas_a]
        [--cases infer1,infer32,train32] [--sides ours,eager,jit] [--threads 2] [--rounds 1]
        [--repeats 2] [--repeats-b1 5] [--json OUT.json]

The nets are ResNet34-DLAS-A and IR-50-DLAS-A (112x112, three modalities, Linear(512, 2) head): ours
from models::build_model(name), PyTorch's from the transcriptions in tests/reference/make_models.py as
tools/full_size_parity.py assembles them at full size. Cases:
  inferB   eval mode without autograd at batch B (any B: infer1, infer32, infer8 ...)
  trainB   one training step at batch B: train-mode forward + cross-entropy + backward + Adam (betas
           0.5 / 0.999), gradients set to none before each step on both sides
Sides: ours (bench/compare_models), eager (PyTorch as written), jit (torch.jit.trace + freeze +
optimize_for_inference, which folds BN into the convs and runs oneDNN; inference only).

Every (net, case, side) runs in a fresh process: one warm-up (two for jit, whose profiling executor
specialises on the second run), then the best of R repeats. Both sides use the same thread count
(OMP_NUM_THREADS for ours, torch.set_num_threads for PyTorch). --rounds K runs the whole list K times,
sides interleaved per case, and keeps each side's best: the machine may be shared, and best-of is the
least noisy estimate of what the code can do. Each case's "other load" column is the CPU time the rest
of the machine used while it ran (from /proc/stat, minus the case's own rusage, steal included), in
cores: near 0 means the numbers are clean.

Peak memory, the same method on both sides: VmHWM of the case's process, and VmHWM minus the VmRSS the
process had before building the net ("above start"). The start is ~10 MB for ours and ~250-300 MB for a
Python process with torch imported (interpreter, libtorch and oneDNN code pages), so compare "above
start", which holds weights, optimizer state, activations, gradients, workspaces and allocator slack.

GFLOP/s counts the forward FLOPs from models::summarize (one multiply-add = 2 FLOPs), x3 for a training
step (forward, backward data, backward weights), and the same count for both sides. % of peak is against
the larger of two fp32 peaks: the nominal one, threads x 2 FMA units x lanes x 2 FLOPs x the clock of
/proc/cpuinfo (lanes: the widest vectors the CPU has, 8 with AVX2, 16 with AVX-512), and the one
compare_models --fma-peak measures with independent FMA chains on every thread before and after the cases.
A KVM guest's cpuinfo shows the base clock while the cores may boost above it, so the larger one keeps
% of peak from flattering; a measured peak well below the nominal one means the cores were shared.

--report RUN.json... prints the tables again from saved --json files, keeping each side's best over all.
Speedup = PyTorch ms / our ms: above 1 we are faster.
"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_NETS = "resnet34_dlas_a,ir50_dlas_a"
SIDES = ("ours", "eager", "jit")


def proc_status_bytes(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return 1024.0 * float(line.split()[1])
    return 0.0


def nominal_peak(threads, lanes):
    """threads x 2 FMA units x lanes x 2 FLOPs x clock, in GFLOP/s, with the fastest clock cpuinfo lists."""
    with open("/proc/cpuinfo") as f:
        mhz = max(float(line.split(":")[1]) for line in f if line.startswith("cpu MHz"))
    return threads * 2 * lanes * 2 * mhz / 1e3, mhz


def parse_case(case):
    m = re.fullmatch(r"(infer|train)(\d+)", case)
    if not m:
        sys.exit(f"compare_torch.py: case '{case}' is not inferB or trainB")
    return ("inference" if m.group(1) == "infer" else "train"), int(m.group(2))


# ---- PyTorch worker: one case, one JSON line (runs in its own process) -------------------------------
def torch_worker(side, net_name, mode, batch, threads, warmup, repeats):
    rss_start = proc_status_bytes("VmRSS")  # after `import torch`, which main() did for this
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from full_size_parity import NETS  # the full-size DLAS-A nets built from tests/reference/make_models.py

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = NETS[net_name][0]().float()
    g = torch.Generator().manual_seed(1)
    x = [torch.randn(batch, 3, 112, 112, generator=g) for _ in range(3)]
    labels = torch.arange(batch) % 2
    times, phases = [], []
    if mode == "inference":
        net.eval()
        model = net
        if side == "jit":
            with torch.no_grad():
                traced = torch.jit.trace(net, tuple(t[:1] for t in x))  # batch 1: tracing is one forward
                model = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
            warmup = max(warmup, 2)
        for r in range(warmup + repeats):
            t0 = time.perf_counter()
            with torch.no_grad():
                model(*x)
            if r >= warmup:
                times.append(1e3 * (time.perf_counter() - t0))
                phases.append({})
    else:
        if side != "eager":
            sys.exit(f"compare_torch.py: side {side} has no training step")
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=2e-5, betas=(0.5, 0.999))
        for r in range(warmup + repeats):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(*x), labels)
            loss.item()
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            opt.step()
            t3 = time.perf_counter()
            if r >= warmup:
                times.append(1e3 * (t3 - t0))
                phases.append({"forward": 1e3 * (t1 - t0), "backward": 1e3 * (t2 - t1), "optimizer": 1e3 * (t3 - t2)})
    best = min(range(len(times)), key=times.__getitem__)
    print(json.dumps({"side": side, "net": net_name, "mode": mode, "batch": batch, "threads": torch.get_num_threads(),
                      "warmup": warmup, "times_ms": times, "best_ms": times[best], "phases_ms": phases[best],
                      "rss_start_bytes": rss_start, "vm_hwm_bytes": proc_status_bytes("VmHWM"),
                      "torch": torch.__version__}))


# ---- driver ----------------------------------------------------------------------------------------
def cpu_busy_seconds():
    """Non-idle CPU seconds of the whole machine so far (steal counts: the hypervisor took the core)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    idle = v[3] + v[4]  # idle + iowait
    return (sum(v[:8]) - idle) / hz


def run_json(cmd, env):
    """Runs one case; returns its JSON and the CPU load (in cores) the rest of the machine added meanwhile."""
    busy0, self0 = cpu_busy_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    self1, busy1 = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_busy_seconds()
    if p.returncode != 0:
        sys.exit(f"compare_torch.py: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    own = (self1.ru_utime - self0.ru_utime) + (self1.ru_stime - self0.ru_stime)
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    if not lines:
        sys.exit(f"compare_torch.py: no JSON from {' '.join(cmd)}:\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    result = json.loads(lines[-1])
    result["other_load_cores"] = max(0.0, (busy1 - busy0 - own) / wall)
    return result


def ours_cmd(args, *extra):
    exe = os.path.join(args.build_dir, "bench", "compare_models")
    if not os.path.exists(exe):
        sys.exit(f"compare_torch.py: {exe} not found: build it first (ninja -C {args.build_dir} bench/compare_models)")
    return [exe, *extra]


def case_cmd(args, side, net, mode, batch):
    repeats = args.repeats_b1 if batch == 1 else args.repeats
    common = ["--net", net, "--mode", mode, "--batch", str(batch), "--warmup", "1", "--repeats", str(repeats)]
    if side == "ours":
        return ours_cmd(args, *common)
    return [sys.executable, os.path.abspath(__file__), "--worker", side, "--threads", str(args.threads), *common]


def fmt_ms(r):
    return f"{r['best_ms']:.1f}" if r else "-"


def mib(x):
    return x / 2**20


def keep_best(results, r):
    """results[(net, case)][side] = the fastest run of that side so far."""
    case = f"{'infer' if r['mode'] == 'inference' else 'train'}{r['batch']}"
    best = results.setdefault((r["net"], case), {}).get(r["side"])
    if best is None or r["best_ms"] < best["best_ms"]:
        results[(r["net"], case)][r["side"]] = r


def report(results, infos, peak):
    """A markdown table per net: times, speedups, GFLOP/s and % of peak, peak memory."""
    peak_gflops = max(peak["nominal_gflops"], *peak["measured_gflops"])
    lines = [f"fp32 peak {peak_gflops:.1f} GFLOP/s: nominal {peak['nominal_gflops']:.1f} = {peak['threads']} threads "
             f"x 2 FMA units x {peak['lanes']} lanes x 2 x {peak['mhz']:.0f} MHz; measured FMA loop "
             f"{', '.join(f'{g:.1f}' for g in peak['measured_gflops'])} GFLOP/s", ""]
    lines.append("| net | case | ours ms | eager ms | jit ms | speedup vs eager | vs jit | "
                 "GFLOP/s ours / eager / jit | % of peak ours / eager / jit | "
                 "peak MiB above start ours / eager / jit | VmHWM MiB ours / eager / jit | other load |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (net, case), by_side in results.items():
        mode, batch = parse_case(case)
        flops = infos[net]["forward_flops_per_sample"] * batch * (3 if mode == "train" else 1)
        o, e, j = (by_side.get(s) for s in SIDES)

        def speedup(t):
            return f"{t['best_ms'] / o['best_ms']:.2f}x" if t and o else "-"

        def gflops(r):
            return f"{flops / r['best_ms'] / 1e6:.1f}" if r else "-"

        def pct(r):
            return f"{100 * flops / r['best_ms'] / 1e6 / peak_gflops:.0f}" if r else "-"

        def above(r):
            return f"{mib(r['vm_hwm_bytes'] - r['rss_start_bytes']):.0f}" if r else "-"

        def hwm(r):
            return f"{mib(r['vm_hwm_bytes']):.0f}" if r else "-"

        load = max((r["other_load_cores"] for r in (o, e, j) if r), default=0.0)
        lines.append(f"| {net} | {case} | {fmt_ms(o)} | {fmt_ms(e)} | {fmt_ms(j)} | {speedup(e)} | {speedup(j)} | "
                     f"{gflops(o)} / {gflops(e)} / {gflops(j)} | {pct(o)} / {pct(e)} / {pct(j)} | "
                     f"{above(o)} / {above(e)} / {above(j)} | {hwm(o)} / {hwm(e)} / {hwm(j)} | {load:.2f} |")
    phase_lines = []
    for (net, case), by_side in results.items():
        for side in ("ours", "eager"):
            r = by_side.get(side)
            if r and r["phases_ms"]:
                p = r["phases_ms"]
                phase_lines.append(f"| {net} | {case} | {side} | {p['forward']:.0f} | {p['backward']:.0f} | "
                                   f"{p['optimizer']:.0f} |")
    if phase_lines:
        lines += ["", "| net | case | side | forward + loss ms | backward ms | Adam ms |",
                  "|---|---|---|---:|---:|---:|"]
        lines += phase_lines
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--nets", default=DEFAULT_NETS)
    ap.add_argument("--cases", default="infer1,infer32,train32")
    ap.add_argument("--sides", default=",".join(SIDES))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1, help="run every case this many times, keep the best")
    ap.add_argument("--repeats", type=int, default=2, help="timed repeats per process (batch > 1)")
    ap.add_argument("--repeats-b1", type=int, default=5, help="timed repeats per process at batch 1")
    ap.add_argument("--json", help="write every measurement here")
    ap.add_argument("--report", nargs="+", metavar="RUN.json", help="only print the tables of saved runs")
    # internal: one PyTorch case in this process
    ap.add_argument("--worker", choices=("eager", "jit"), help=argparse.SUPPRESS)
    ap.add_argument("--net", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--warmup", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        import torch  # noqa: F401  (before the start RSS is read: the worker measures from here)
        torch_worker(args.worker, args.net, args.mode, args.batch, args.threads, args.warmup, args.repeats)
        return

    if args.report:
        results, peak, infos = {}, None, {}
        for path in args.report:
            with open(path) as f:
                saved = json.load(f)
            infos.update(saved["infos"])
            if peak is None:
                peak = saved["peak"]
            else:
                peak["measured_gflops"] += saved["peak"]["measured_gflops"]
            for r in saved["runs"]:
                keep_best(results, r)
        print(report(results, infos, peak))
        return

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    nets, cases, sides = args.nets.split(","), args.cases.split(","), args.sides.split(",")
    for s in sides:
        if s not in SIDES:
            sys.exit(f"compare_torch.py: unknown side '{s}'; known: {', '.join(SIDES)}")
    for c in cases:
        parse_case(c)
    peak = run_json(ours_cmd(args, "--fma-peak"), env)
    peak["nominal_gflops"], peak["mhz"] = nominal_peak(peak["threads"], peak["lanes"])
    peak["measured_gflops"] = [peak.pop("fma_peak_gflops")]
    infos = {net: run_json(ours_cmd(args, "--info", "--net", net), env) for net in nets}
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, {args.threads} threads, "
          f"load average {os.getloadavg()[0]:.2f}; fp32 peak {peak['nominal_gflops']:.1f} GFLOP/s nominal, "
          f"{peak['measured_gflops'][0]:.1f} measured", flush=True)
    results, runs = {}, []
    for rnd in range(args.rounds):
        for net in nets:
            for case in cases:
                mode, batch = parse_case(case)
                for side in sides:
                    if side == "jit" and mode == "train":
                        continue
                    r = run_json(case_cmd(args, side, net, mode, batch), env)
                    r["round"] = rnd
                    runs.append(r)
                    print(f"round {rnd} {net} {case} {side}: best {r['best_ms']:.1f} ms of "
                          f"{', '.join(f'{t:.0f}' for t in r['times_ms'])}; VmHWM {mib(r['vm_hwm_bytes']):.0f} MiB "
                          f"(start {mib(r['rss_start_bytes']):.0f}); other load {r['other_load_cores']:.2f} cores",
                          flush=True)
                    keep_best(results, r)
    peak["measured_gflops"].append(run_json(ours_cmd(args, "--fma-peak"), env)["fma_peak_gflops"])
    print()
    print(report(results, infos, peak))
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump({"peak": peak, "infos": infos, "runs": runs, "threads": args.threads,
                       "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, f, indent=1)
        os.replace(args.json + ".tmp", args.json)  # never half-written


if __name__ == "__main__":
    main()
