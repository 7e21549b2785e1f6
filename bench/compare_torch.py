"""Whole-network speed and peak memory of hardtune against PyTorch, on the CPU or on a CUDA GPU.

Run with Debian's interpreter (it has torch), after building bench/compare_models:
    /usr/bin/python3 bench/compare_torch.py [--build-dir build] [--nets resnet34_dlas_a,ir50_dlas_a]
        [--cases infer1,infer32,train32] [--sides ours,eager,jit] [--threads 2] [--rounds 1]
        [--repeats 2] [--repeats-b1 5] [--json OUT.json]
On a GPU (a build with the CUDA backend; any python3 with a CUDA build of torch):
    python3 bench/compare_torch.py --device cuda [--math tf32|fp32|bf16] [--quick] [--build-dir build-gpu]
        [--cases infer1,infer64,train64] [--sides ours,ours_vendor,eager[,compile]] [--json OUT.json]

The nets are ResNet34-DLAS-A and IR-50-DLAS-A (112x112, three modalities, Linear(512, 2) head): ours
from models::build_model(name), PyTorch's from the transcriptions in tests/reference/make_models.py as
tools/full_size_parity.py assembles them at full size. Cases:
  inferB   eval mode without autograd at batch B (any B: infer1, infer32, infer8 ...)
  trainB   one training step at batch B: train-mode forward + cross-entropy + backward + Adam (betas
           0.5 / 0.999), gradients set to none before each step on both sides
Sides on the CPU: ours (bench/compare_models), eager (PyTorch as written), jit (torch.jit.trace + freeze +
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

--device cuda: the same cases on the GPU; the net and the batch are moved to the device before timing
(the batch's transfer is not part of a step), and every step starts and ends with the device idle
(cudaDeviceSynchronize / torch.cuda.synchronize), so the host clock measures the device's work. Sides:
  ours          our CUDA kernels
  ours_vendor   our engine with conv2d and batch_norm on cuDNN and linear on cuBLAS (the yardstick)
  eager         PyTorch as written, torch.backends.cudnn.benchmark on
  compile       torch.compile(model), default mode (max-autotune compiles for too long); skipped with a
                note when its first step, which compiles, takes over --compile-limit-s (60). Not a default.
--math (default tf32) sets how f32 convs and GEMMs multiply, on every side: fp32 = exact FMAs (PyTorch:
TF32 off for cuDNN and cuBLAS), tf32 = tensor cores on 10-bit-mantissa operands (PyTorch: allow_tf32 on
for both), bf16 = bfloat16 operands with fp32 accumulation (PyTorch: torch.autocast to bfloat16, which
also keeps activations in bf16; ours rounds only the products' operands). Warm-up 3 steps (the first ones
fill the caching allocators, make Adam's state and choose cuDNN algorithms), then up to --repeats steps
(20; 50 at batch 1), stopping early once a case has run --budget-s (10) seconds; a case still running after
--case-timeout-s (300) is killed. Peak memory on the GPU: the
caching allocator's peak of live bytes (ours: the CUDA allocator's peak_live_bytes; PyTorch:
torch.cuda.max_memory_allocated), and what it reserved from the driver (ours: live + cached at the end, it
returns nothing to the driver; PyTorch: max_memory_reserved). Throughput in triplets/s (one triplet = one
sample's three modalities). % of peak is against NVIDIA's H200 datasheet figures, dense (not measured):
67 TFLOP/s fp32, 495 tf32, 990 bf16, chosen by --math (--peak-tflops sets another).
--quick bounds a whole GPU run (both nets, the default cases and sides) to about 3 minutes on an H200:
10 repeats (20 at batch 1), at most 3 s of steps and 90 s in all per case, no case started after 180 s
(--time-limit-s; the ones left are listed as not run), and no phase table, so that the short table ends
the output. On the CPU, --quick only cuts the repeats (1; 2 at batch 1).
A case that fails or times out is reported and the others still run; the exit status is then 1 (also when
a case printed its result and then failed to exit cleanly: its numbers are kept).

--report RUN.json... prints the tables again from saved --json files, keeping each side's best over all.
Speedup = PyTorch ms / our ms: above 1 we are faster.
"""
import argparse
import contextlib
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_NETS = "resnet34_dlas_a,ir50_dlas_a"
SIDES = {"cpu": ("ours", "eager", "jit"), "cuda": ("ours", "ours_vendor", "eager", "compile")}
OURS = ("ours", "ours_vendor")  # compare_models; the rest are PyTorch workers
# What a run does unless told otherwise, per device, and what --quick changes. 0 = no limit.
DEFAULTS = {
    "cpu": dict(cases="infer1,infer32,train32", sides="ours,eager,jit", warmup=1, repeats=2, repeats_b1=5,
                budget_s=0, time_limit_s=0, case_timeout_s=0),
    "cuda": dict(cases="infer1,infer64,train64", sides="ours,ours_vendor,eager", warmup=3, repeats=20,
                 repeats_b1=50, budget_s=10, time_limit_s=0, case_timeout_s=300),
}
QUICK = {"cpu": dict(repeats=1, repeats_b1=2),
         "cuda": dict(repeats=10, repeats_b1=20, budget_s=3, time_limit_s=180, case_timeout_s=90)}
# NVIDIA's H200 datasheet, dense tensor-core rates (its headline tf32 / bf16 figures assume 2:4 sparsity
# and are twice these), TFLOP/s by --math. Not measured.
H200_PEAK_TFLOPS = {"fp32": 67.0, "tf32": 495.0, "bf16": 990.0}


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
def time_steps(step, sync, warmup, repeats, budget_s):
    """Warm-up + repeats steps, each between two synchronisations; the timed ones' totals (ms) and phases.
    The same loop as compare_models' time_steps."""
    times, phases = [], []
    start = time.perf_counter()
    for r in range(warmup + repeats):
        sync()
        t0 = time.perf_counter()
        p = step(t0)
        sync()
        total = 1e3 * (time.perf_counter() - t0)
        if r < warmup:
            continue
        times.append(total)
        phases.append(p)
        if budget_s and time.perf_counter() - start > budget_s:
            break
    return times, phases


class CompileTooSlow(BaseException):
    """Raised by the alarm; a BaseException, so torch.compile's `except Exception` wrappers let it through."""


def first_step_within(step, sync, limit_s):
    """Runs the step that compiles under an alarm: its seconds, or None when it took longer than limit_s."""
    fired = []

    def alarm(signum, frame):
        fired.append(signum)
        raise CompileTooSlow

    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(max(1, int(limit_s)))
    t0 = time.perf_counter()
    try:
        step(t0)
        sync()
    except BaseException:
        if not fired:
            raise
        return None
    finally:
        signal.alarm(0)
    return time.perf_counter() - t0


def configure_cuda(torch, math):
    """cuDNN's autotuner on, TF32 as --math says (by default cuDNN's convs allow it and cuBLAS's GEMMs not)."""
    torch.backends.cudnn.benchmark = True
    tf32 = math != "fp32"
    # The old flags warn that they will be deprecated, but the fp32_precision API that replaces them breaks
    # torch.compile where inductor still reads the old ones (pytorch/pytorch#166387).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32


def torch_worker(args):
    rss_start = proc_status_bytes("VmRSS")  # after `import torch`, which main() did for this
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from full_size_parity import NETS  # the full-size DLAS-A nets built from tests/reference/make_models.py

    side, mode, batch, cuda = args.worker, args.mode, args.batch, args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        sys.exit("compare_torch.py: this torch sees no CUDA device")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = NETS[args.net][0]().float()
    g = torch.Generator().manual_seed(1)
    x = [torch.randn(batch, 3, 112, 112, generator=g) for _ in range(3)]
    labels = torch.arange(batch) % 2
    sync, amp = (lambda: None), contextlib.nullcontext
    if cuda:
        configure_cuda(torch, args.math)
        net.cuda()
        x, labels = [t.cuda() for t in x], labels.cuda()
        sync = torch.cuda.synchronize
        if args.math == "bf16":
            amp = lambda: torch.autocast(device_type="cuda", dtype=torch.bfloat16)  # noqa: E731
    warmup = args.warmup
    model = torch.compile(net) if side == "compile" else net
    if mode == "inference":
        net.eval()
        if side == "jit":
            with torch.no_grad():
                traced = torch.jit.trace(net, tuple(t[:1] for t in x))  # batch 1: tracing is one forward
                model = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
            warmup = max(warmup, 2)

        def step(t0):
            with torch.no_grad(), amp():
                model(*x).cpu()  # the logits on the host, as ours returns them (a no-op on the CPU)
            return {}
    else:
        if side == "jit":
            sys.exit(f"compare_torch.py: side {side} has no training step")
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=2e-5, betas=(0.5, 0.999))

        def step(t0):
            opt.zero_grad(set_to_none=True)
            with amp():
                loss = F.cross_entropy(model(*x), labels)
            loss.item()
            t1 = time.perf_counter()
            loss.backward()
            sync()
            t2 = time.perf_counter()
            opt.step()
            sync()
            t3 = time.perf_counter()
            return {"forward": 1e3 * (t1 - t0), "backward": 1e3 * (t2 - t1), "optimizer": 1e3 * (t3 - t2)}

    result = {"side": side, "net": args.net, "mode": mode, "batch": batch, "device": args.device}
    if side == "compile":
        result["compile_s"] = first_step_within(step, sync, args.compile_limit_s)
        if result["compile_s"] is None:
            result["skipped"] = f"torch.compile took over {args.compile_limit_s:.0f} s"
            print(json.dumps(result), flush=True)
            os._exit(0)  # not sys.exit: interpreter shutdown would wait for the interrupted compile workers
    times, phases = time_steps(step, sync, warmup, args.repeats, args.budget_s or 0)
    best = min(range(len(times)), key=times.__getitem__)
    result.update({"threads": torch.get_num_threads(), "warmup": warmup, "times_ms": times, "best_ms": times[best],
                   "triplets_per_s": 1e3 * batch / times[best], "phases_ms": phases[best],
                   "rss_start_bytes": rss_start, "vm_hwm_bytes": proc_status_bytes("VmHWM"),
                   "torch": torch.__version__})
    if cuda:
        result.update({"math": args.math, "gpu": torch.cuda.get_device_name(),
                       "device_peak_bytes": torch.cuda.max_memory_allocated(),
                       "device_reserved_bytes": torch.cuda.max_memory_reserved()})
    print(json.dumps(result))


# ---- driver ----------------------------------------------------------------------------------------
def cpu_busy_seconds():
    """Non-idle CPU seconds of the whole machine so far (steal counts: the hypervisor took the core)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    idle = v[3] + v[4]  # idle + iowait
    return (sum(v[:8]) - idle) / hz


class CaseFailed(Exception):
    def __init__(self, reason, detail):
        super().__init__(detail)
        self.reason = reason  # one line, for the list under the table


def end_session(p):
    """Kills whatever is left of the process group p leads (torch.compile's workers), then reaps p."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def run_json(cmd, env, timeout=None):
    """Runs one case; returns its JSON and the CPU load (in cores) the rest of the machine added meanwhile.
    Raises CaseFailed when it fails, prints no JSON, or runs past timeout seconds."""
    busy0, self0 = cpu_busy_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    # Files, not pipes: a compile worker that outlives the case would hold a pipe open. A session of its own,
    # so that everything the case started can be ended with it; on Ctrl-C too, which the session does not get.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True, start_new_session=True)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            end_session(p)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    wall = time.perf_counter() - t0
    self1, busy1 = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_busy_seconds()
    what = " ".join(cmd)
    last = ([line for line in stderr.splitlines() if line.strip()] or ["no message"])[-1]
    reason = None if rc == 0 else f"killed after {timeout:.0f} s" if rc is None else f"exit {rc}: {last[:200]}"
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        reason = reason or "no JSON"
        raise CaseFailed(reason, f"compare_torch.py: {what} failed ({reason}):\n{stdout[-2000:]}{stderr[-3000:]}")
    own = (self1.ru_utime - self0.ru_utime) + (self1.ru_stime - self0.ru_stime)
    result = json.loads(lines[-1])
    if reason:  # the measurement is whole; what went wrong after it (teardown) is reported with it
        result["exit_note"] = reason
    result["other_load_cores"] = max(0.0, (busy1 - busy0 - own) / wall)
    return result


def must_run_json(cmd, env):
    try:
        r = run_json(cmd, env)
    except CaseFailed as e:
        sys.exit(str(e))
    if "exit_note" in r:
        sys.exit(f"compare_torch.py: {' '.join(cmd)}: {r['exit_note']} after its result")
    return r


def ours_cmd(args, *extra):
    exe = os.path.join(args.build_dir, "bench", "compare_models")
    if not os.path.exists(exe):
        sys.exit(f"compare_torch.py: {exe} not found: build it first (ninja -C {args.build_dir} bench/compare_models)")
    return [exe, *extra]


def case_cmd(args, side, net, mode, batch):
    repeats = args.repeats_b1 if batch == 1 else args.repeats
    common = ["--net", net, "--mode", mode, "--batch", str(batch), "--warmup", str(args.warmup),
              "--repeats", str(repeats)]
    if args.budget_s:
        common += ["--budget-s", str(args.budget_s)]
    if args.device == "cuda":
        common += ["--device", "cuda", "--math", args.math]
    if side in OURS:
        backend = ["--backend", "vendor" if side == "ours_vendor" else "ours"] if args.device == "cuda" else []
        return ours_cmd(args, *common, *backend)
    compile_limit = ["--compile-limit-s", str(args.compile_limit_s)] if side == "compile" else []
    return [sys.executable, os.path.abspath(__file__), "--worker", side, "--threads", str(args.threads), *common,
            *compile_limit]


def fmt_ms(r):
    return f"{r['best_ms']:.1f}" if r else "-"


def mib(x):
    return x / 2**20


def case_name(r):
    return f"{'infer' if r['mode'] == 'inference' else 'train'}{r['batch']}"


def keep_best(results, r):
    """results[(net, case)][side] = the fastest run of that side so far."""
    case = case_name(r)
    best = results.setdefault((r["net"], case), {}).get(r["side"])
    if best is None or r["best_ms"] < best["best_ms"]:
        results[(r["net"], case)][r["side"]] = r


def phase_table(results, sides, digits):
    """Forward / backward / optimizer times of the training cases, or no lines."""
    rows = []
    for (net, case), by_side in results.items():
        for side in sides:
            r = by_side.get(side)
            if r and r["phases_ms"]:
                p = r["phases_ms"]
                rows.append(f"| {net} | {case} | {side} | {p['forward']:.{digits}f} | {p['backward']:.{digits}f} | "
                            f"{p['optimizer']:.{digits}f} |")
    if not rows:
        return []
    return ["", "| net | case | side | forward + loss ms | backward ms | Adam ms |", "|---|---|---|---:|---:|---:|",
            *rows]


def case_flops(infos, net, case):
    mode, batch = parse_case(case)
    return infos[net]["forward_flops_per_sample"] * batch * (3 if mode == "train" else 1)


def report_cpu(results, infos, peak):
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
        flops = case_flops(infos, net, case)
        o, e, j = (by_side.get(s) for s in SIDES["cpu"])

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
    lines += phase_table(results, SIDES["cpu"], 0)
    return "\n".join(lines)


def report_cuda(results, infos, peak, sides, notes, with_phases=True):
    """The training phases, the cases not measured, then one table: times, speedups, triplets/s, TFLOP/s
    and % of peak, device memory; last, so that the tail of a log holds it."""
    gpus = sorted({r["gpu"] for by_side in results.values() for r in by_side.values() if "gpu" in r})
    ours = [s for s in sides if s in OURS]
    baselines = [s for s in sides if s not in OURS] if ours else []  # the speedups' numerators
    per_side = " / ".join(sides)
    lines = phase_table(results, sides, 1) if with_phases else []
    if notes:
        lines += ["", "Notes:", *(f"- {n}" for n in notes)]
    lines += ["", f"GPU {', '.join(gpus) or 'unknown (no PyTorch side ran)'}, --math {peak['math']}; % of peak against "
              f"{peak['tflops']:g} TFLOP/s ({peak['source']}); speedup = PyTorch ms / ours", ""]
    cols = ["net", "case", f"ms {per_side}", *(f"speedup vs {t}: {' / '.join(ours)}" for t in baselines),
            f"triplets/s {per_side}", f"TFLOP/s (% of peak) {per_side}", f"peak MiB {per_side}",
            f"reserved MiB {per_side}"]
    lines += ["| " + " | ".join(cols) + " |", "|---|---|" + "---:|" * (len(cols) - 2)]
    for (net, case), by_side in results.items():
        flops = case_flops(infos, net, case)

        def each(f):
            return " / ".join(f(by_side[s]) if s in by_side else "-" for s in sides)

        def tflops(r):
            t = flops / r["best_ms"] / 1e9
            return f"{t:.1f} ({100 * t / peak['tflops']:.0f} %)"

        speedups = [" / ".join(f"{by_side[t]['best_ms'] / by_side[o]['best_ms']:.2f}x" if t in by_side and o in by_side
                               else "-" for o in ours) for t in baselines]
        cells = [net, case, each(lambda r: f"{r['best_ms']:.2f}"), *speedups,
                 each(lambda r: f"{r['triplets_per_s']:.0f}"), each(tflops),
                 each(lambda r: f"{mib(r['device_peak_bytes']):.0f}"),
                 each(lambda r: f"{mib(r['device_reserved_bytes']):.0f}")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_line(what, r):
    """One line per measured case, as it finishes."""
    if r.get("device", "cpu") == "cpu":
        return (f"{what}: best {r['best_ms']:.1f} ms of {', '.join(f'{t:.0f}' for t in r['times_ms'])}; VmHWM "
                f"{mib(r['vm_hwm_bytes']):.0f} MiB (start {mib(r['rss_start_bytes']):.0f}); other load "
                f"{r['other_load_cores']:.2f} cores")
    line = (f"{what}: best {r['best_ms']:.2f} ms of {len(r['times_ms'])} (median "
            f"{statistics.median(r['times_ms']):.2f}); {r['triplets_per_s']:.0f} triplets/s; device peak "
            f"{mib(r['device_peak_bytes']):.0f} MiB, reserved {mib(r['device_reserved_bytes']):.0f}")
    if r.get("compile_s") is not None:
        line += f"; compiled in {r['compile_s']:.0f} s"
    if r["phases_ms"]:
        p = r["phases_ms"]
        line += f"; forward {p['forward']:.1f} / backward {p['backward']:.1f} / Adam {p['optimizer']:.1f} ms"
    return line


def print_saved(paths):
    """--report: the tables of saved runs, each side's best over all of them."""
    results, peak, infos, notes, device, sides = {}, None, {}, [], None, set()
    for path in paths:
        with open(path) as f:
            saved = json.load(f)
        if device not in (None, saved.get("device", "cpu")):
            sys.exit("compare_torch.py --report: the files mix CPU and CUDA runs")
        device = saved.get("device", "cpu")  # runs saved before --device existed are CPU runs
        infos.update(saved["infos"])
        if peak is None:
            peak = saved["peak"]
        elif device == "cpu":
            peak["measured_gflops"] += saved["peak"]["measured_gflops"]
        notes += saved.get("notes", [])
        for r in saved["runs"]:
            keep_best(results, r)
            sides.add(r["side"])
    if device == "cpu":
        print(report_cpu(results, infos, peak))
    else:
        print(report_cuda(results, infos, peak, [s for s in SIDES["cuda"] if s in sides], notes))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=tuple(SIDES), default="cpu")
    ap.add_argument("--math", choices=tuple(H200_PEAK_TFLOPS), help="cuda: how f32 convs and GEMMs multiply (tf32)")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--nets", default=DEFAULT_NETS)
    ap.add_argument("--cases", help=f"default {DEFAULTS['cpu']['cases']}; cuda: {DEFAULTS['cuda']['cases']}")
    ap.add_argument("--sides", help=f"default {DEFAULTS['cpu']['sides']}; cuda: {DEFAULTS['cuda']['sides']} "
                    f"(of {','.join(SIDES['cuda'])})")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1, help="run every case this many times, keep the best")
    ap.add_argument("--warmup", type=int, help="untimed steps per process (1; cuda 3)")
    ap.add_argument("--repeats", type=int, help="timed repeats per process, batch > 1 (2; cuda 20)")
    ap.add_argument("--repeats-b1", type=int, help="timed repeats per process at batch 1 (5; cuda 50)")
    ap.add_argument("--budget-s", type=float, help="end a case's repeats once it has run this long (none; cuda 10)")
    ap.add_argument("--time-limit-s", type=float, help="start no case this long after the run began (none)")
    ap.add_argument("--case-timeout-s", type=float, help="kill a case that runs this long (none; cuda 300)")
    ap.add_argument("--compile-limit-s", type=float, default=60,
                    help="side compile: skip the case when its first step, which compiles, takes longer (60)")
    ap.add_argument("--peak-tflops", type=float, help="cuda: %% of peak against this (H200 datasheet by --math)")
    ap.add_argument("--quick", action="store_true",
                    help="cuda: the whole run in about 3 minutes (10 repeats, 20 at batch 1, 3 s a case, no case "
                         "after 180 s); cpu: 1 repeat, 2 at batch 1")
    ap.add_argument("--json", help="write every measurement here")
    ap.add_argument("--report", nargs="+", metavar="RUN.json", help="only print the tables of saved runs")
    # internal: one PyTorch case in this process
    ap.add_argument("--worker", choices=("eager", "jit", "compile"), help=argparse.SUPPRESS)
    ap.add_argument("--net", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        import torch  # noqa: F401  (before the start RSS is read: the worker measures from here)
        torch_worker(args)
        return
    if args.report:
        print_saved(args.report)
        return

    cuda = args.device == "cuda"
    for key, value in {**DEFAULTS[args.device], **(QUICK[args.device] if args.quick else {})}.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if cuda:
        args.math = args.math or "tf32"
    elif args.math or args.peak_tflops:
        sys.exit("compare_torch.py: --math and --peak-tflops need --device cuda")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    nets, cases, sides = args.nets.split(","), args.cases.split(","), args.sides.split(",")
    for s in sides:
        if s not in SIDES[args.device]:
            sys.exit(f"compare_torch.py: unknown side '{s}' on {args.device}; known: {', '.join(SIDES[args.device])}")
    for c in cases:
        parse_case(c)
    start = time.perf_counter()
    date = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    if cuda:
        peak = {"math": args.math, "tflops": args.peak_tflops or H200_PEAK_TFLOPS[args.math],
                "source": "--peak-tflops" if args.peak_tflops else "NVIDIA H200 datasheet, dense, not measured"}
    else:
        peak = must_run_json(ours_cmd(args, "--fma-peak"), env)
        peak["nominal_gflops"], peak["mhz"] = nominal_peak(peak["threads"], peak["lanes"])
        peak["measured_gflops"] = [peak.pop("fma_peak_gflops")]
    infos = {net: must_run_json(ours_cmd(args, "--info", "--net", net), env) for net in nets}
    if cuda:
        print(f"# {date}, CUDA, --math {args.math}{' --quick' if args.quick else ''}, sides {args.sides}; "
              f"peak {peak['tflops']:g} TFLOP/s ({peak['source']})", flush=True)
    else:
        print(f"# {date}, {args.threads} threads, load average {os.getloadavg()[0]:.2f}; fp32 peak "
              f"{peak['nominal_gflops']:.1f} GFLOP/s nominal, {peak['measured_gflops'][0]:.1f} measured", flush=True)
    results, runs, notes, failed = {}, [], [], False
    for rnd in range(args.rounds):
        for net in nets:
            for case in cases:
                mode, batch = parse_case(case)
                for side in sides:
                    if side == "jit" and mode == "train":
                        continue
                    what = f"round {rnd} {net} {case} {side}"
                    timeout = args.case_timeout_s or None
                    if args.time_limit_s:
                        left = args.time_limit_s - (time.perf_counter() - start)
                        if left < 10:  # too little for a process to start, build the net and warm up
                            notes.append(f"{what}: not run, past --time-limit-s {args.time_limit_s:g}")
                            continue
                        timeout = min(timeout or left, left)
                    try:
                        r = run_json(case_cmd(args, side, net, mode, batch), env, timeout)
                    except CaseFailed as e:
                        failed = True
                        notes.append(f"{what}: failed, {e.reason}")
                        print(f"{what}: FAILED\n{e}", flush=True)
                        continue
                    if "skipped" in r:
                        notes.append(f"{what}: skipped, {r['skipped']}")
                        print(f"{what}: skipped, {r['skipped']}", flush=True)
                        continue
                    r["round"] = rnd
                    runs.append(r)
                    print(run_line(what, r), flush=True)
                    if "exit_note" in r:
                        failed = True
                        notes.append(f"{what}: measured, then {r['exit_note']}")
                    keep_best(results, r)
    print()
    if cuda:
        print(report_cuda(results, infos, peak, sides, notes, with_phases=not args.quick))
    else:
        peak["measured_gflops"].append(must_run_json(ours_cmd(args, "--fma-peak"), env)["fma_peak_gflops"])
        if notes:
            print("Notes:", *(f"- {n}" for n in notes), "", sep="\n")
        print(report_cpu(results, infos, peak))
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump({"device": args.device, "peak": peak, "infos": infos, "runs": runs, "notes": notes,
                       "threads": args.threads, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                      f, indent=1)
        os.replace(args.json + ".tmp", args.json)  # never half-written
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
