"""Full-size parity reference and PyTorch timings for the whole HardTune networks (not part of meson test).

Run with Debian's interpreter (tools/full_size_parity.sh runs this and bench/model_parity on both nets):
    /usr/bin/python3 tools/full_size_parity.py [--out DIR] [--nets resnet34_dlas_a,ir50_dlas_a] [--no-timing]
    /usr/bin/python3 tools/full_size_parity.py --nets NET --replay OURS.safetensors MODULE:N,C,H,W...

Builds ResNetCaffe-34 DLAS-A and IR-50 DLAS-A at FULL size with a Linear(512, 2) classifier from the
definitions of tests/reference/make_models.py (written from the spec, with the reference's key names),
seeded, with BN and PReLU state moved off its defaults (make_models.perturb). Weights are made in f32 and
run in f64, so the C++ net loads exactly the weights the reference used. For each net it writes
DIR/<net>.safetensors (hundreds of MB: keep it out of the repository; the default DIR is under /tmp) with
one metadata case "<net>" and tensors "<net>.<role>":
  init.<key>       the state_dict before the step (f32)
  rgb, depth, ir   the batch (BATCH x 3 x 112 x 112, f32), labels (i64)
  logits, loss     train-mode logits and cross-entropy of the first forward
  grad.<key>       every parameter gradient of that step
  stats.<key>      BN running statistics after that forward
  eval_logits      eval-mode logits after it (running statistics updated once, no optimizer step)
All computed in f64, stored as f32 (loss as f64). It then runs the same step in PyTorch f32 and prints
PyTorch's own errors against the f64 reference, measured as bench/model_parity measures ours: the yardstick
for what f32 arithmetic reaches on this net and batch.

Then it times PyTorch in f32 on 2 threads, as bench/model_parity does for ours: forward (eval, no_grad)
and one training step (train mode, forward + cross-entropy + backward, no optimizer) at batch 1 and 8,
best of REPEATS after one warm-up, and prints the times in ms.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from make_models import DLAS, IRFamily, ResNetCaffeFamily, f32, perturb  # noqa: E402
from reftools import Reference  # noqa: E402

BATCH = 2
SIZE = 112
TIMING_BATCHES = (1, 8)
REPEATS = 3

NETS = {
    # REFERENCE.md §1.3 / §1.4 full-size configurations (the registry's resnet34_dlas_a / ir50_dlas_a)
    "resnet34_dlas_a": (lambda: DLAS(ResNetCaffeFamily([32, 64, 128, 256, 512], [1, 2, 5, 3]), "A"), 1),
    "ir50_dlas_a": (lambda: DLAS(IRFamily([64, 64, 128, 256, 512], [3, 4, 14, 3], 0), "A"), 2),
}


def write_reference(name, make, seed, out_dir):
    torch.manual_seed(seed)
    net = make()
    perturb(net)
    net.double()
    init = {k: f32(v.clone()) for k, v in net.state_dict().items()}
    g = torch.Generator().manual_seed(100 + seed)
    rgb, depth, ir = (torch.randn(BATCH, 3, SIZE, SIZE, generator=g) for _ in range(3))
    labels = torch.tensor([1, 0])
    t0 = time.perf_counter()
    net.train()
    logits = net(rgb.double(), depth.double(), ir.double())
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    net.eval()
    with torch.no_grad():
        eval_logits = net(rgb.double(), depth.double(), ir.double())
    tensors = {"rgb": rgb, "depth": depth, "ir": ir, "labels": labels, "logits": logits.float(),
               "loss": loss.detach().reshape(1), "eval_logits": eval_logits.float()}
    tensors.update({f"grad.{k}": p.grad.float() for k, p in net.named_parameters()})
    tensors.update({f"stats.{k}": b.float() for k, b in net.named_buffers() if "running" in k})
    tensors.update({f"init.{k}": v for k, v in init.items()})
    n_params = sum(p.numel() for p in net.parameters())
    ref = Reference(name)
    ref.case(name, dict(batch=BATCH, size=SIZE, seed=seed, params=n_params), **tensors)
    path = os.path.join(out_dir, name + ".safetensors")
    ref.save(path)
    print(f"{name}: {n_params} params, f64 reference step {time.perf_counter() - t0:.1f} s, loss {loss.item():.6f}")
    torch_f32_errors(name, make, init, (rgb, depth, ir), labels, tensors)


def max_rel(a, e, floor):
    return ((a.double() - e.double()).abs() / (e.double().abs() + floor)).max().item()


def rms(t):
    return t.double().pow(2).mean().sqrt().item()


def torch_f32_errors(name, make, init, inputs, labels, ref):
    """The errors of PyTorch itself in f32 against the f64 reference, by bench/model_parity's measures:
    what an f32 engine can be expected to reach on this net and batch."""
    net = make().float()
    net.load_state_dict(init)
    net.train()
    logits = net(*inputs)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    grads = {k: p.grad for k, p in net.named_parameters()}
    sum_sq = sum(ref[f"grad.{k}"].double().pow(2).sum().item() for k in grads)
    diff_sq = sum((g.double() - ref[f"grad.{k}"].double()).pow(2).sum().item() for k, g in grads.items())
    count = sum(g.numel() for g in grads.values())
    floor = 1e-3 * (sum_sq / count) ** 0.5
    errs = sorted(((max_rel(g, ref[f"grad.{k}"], max(rms(ref[f"grad.{k}"]), floor)), k) for k, g in grads.items()),
                  reverse=True)
    above = sum(1 for e, _ in errs if e > 1e-3)
    net.eval()
    with torch.no_grad():
        eval_logits = net(*inputs)
    print(f"pytorch f32 {name}: train logits max rel {max_rel(logits, ref['logits'], 0):.3g} "
          f"(RMS floor {max_rel(logits, ref['logits'], rms(ref['logits'])):.3g}), "
          f"loss rel {abs(loss.item() - ref['loss'].item()) / abs(ref['loss'].item()):.3g}")
    print(f"pytorch f32 {name}: gradients {len(errs)} tensors: worst {errs[0][0]:.3g} ({errs[0][1]}), "
          f"median {errs[len(errs) // 2][0]:.3g}, {above} above 1e-03; "
          f"all-gradient relative L2 {(diff_sq / sum_sq) ** 0.5:.3g}")
    for e, k in errs[1:5]:
        print(f"                next {e:.3g} ({k})")
    print(f"pytorch f32 {name}: eval logits max rel {max_rel(eval_logits, ref['eval_logits'], 0):.3g} "
          f"(RMS floor {max_rel(eval_logits, ref['eval_logits'], rms(ref['eval_logits'])):.3g})", flush=True)


def load_safetensors(path):
    import json
    import struct
    import numpy as np
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    header, base = json.loads(b[8:8 + n]), 8 + n
    header.pop("__metadata__", None)
    dt = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    out = {}
    for k, v in header.items():
        lo, hi = v["data_offsets"]
        data = np.frombuffer(b[base + lo:base + hi], dtype=dt[v["dtype"]]).copy()
        out[k] = torch.from_numpy(data).reshape(v["shape"])
    return out


class _FlipSlope(torch.autograd.Function):
    """Identity in front of a PReLU whose backward gives one element the other slope."""

    @staticmethod
    def forward(ctx, x, idx, slope):
        ctx.idx, ctx.factor = idx, slope if x[idx].item() > 0 else 1 / slope
        return x.view_as(x)

    @staticmethod
    def backward(ctx, gy):
        gy = gy.clone()
        gy[ctx.idx] *= ctx.factor
        return gy, None, None


def replay_flips(name, ours_path, flips):
    """--replay: recomputes the f64 gradients with the given PReLU inputs taken on the other side of 0
    ("module:n,c,h,w", e.g. layer4.5.relu2:1,168,2,4) and measures bench/model_parity --save's gradients
    against them, to tell a kink flip from a bug."""
    make, seed = NETS[name]
    torch.manual_seed(seed)
    net = make()
    perturb(net)
    net.double()
    g = torch.Generator().manual_seed(100 + seed)
    x = [torch.randn(BATCH, 3, SIZE, SIZE, generator=g).double() for _ in range(3)]
    modules = dict(net.named_modules())
    for flip in flips:
        module, idx = flip.split(":")
        idx = tuple(int(i) for i in idx.split(","))
        prelu = modules[module]
        prelu.register_forward_pre_hook(
            lambda m, inp, idx=idx: (_FlipSlope.apply(inp[0], idx, m.weight[idx[1]].item()),))
    net.train()
    F.cross_entropy(net(*x), torch.tensor([1, 0])).backward()
    ours = load_safetensors(ours_path)
    ref = {k: p.grad for k, p in net.named_parameters()}
    scale = (sum(r.pow(2).sum().item() for r in ref.values()) / sum(r.numel() for r in ref.values())) ** 0.5
    errs = sorted(((max_rel(ours["grad." + k], r, max(rms(r), 1e-3 * scale)), k) for k, r in ref.items()),
                  reverse=True)
    print(f"ours vs f64 with {len(flips)} flip(s) {' '.join(flips)}: worst {errs[0][0]:.3g} ({errs[0][1]}), "
          f"median {errs[len(errs) // 2][0]:.3g}, {sum(1 for e, _ in errs if e > 1e-3)} above 1e-03")
    for e, k in errs[1:5]:
        print(f"                next {e:.3g} ({k})")


def best_ms(fn):
    fn()  # warm-up
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times)


def time_pytorch(name, make):
    torch.manual_seed(0)
    net = make().float()
    for batch in TIMING_BATCHES:
        x = [torch.randn(batch, 3, SIZE, SIZE) for _ in range(3)]
        labels = torch.arange(batch) % 2

        def forward():
            net.eval()
            with torch.no_grad():
                net(*x)

        def train_step():
            net.train()
            net.zero_grad(set_to_none=True)
            F.cross_entropy(net(*x), labels).backward()

        print(f"pytorch {name} batch {batch}: forward {best_ms(forward):.1f} ms, "
              f"train step {best_ms(train_step):.1f} ms", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/hardtune_parity", help="directory for <net>.safetensors")
    ap.add_argument("--nets", default=",".join(NETS), help="comma-separated subset of " + ", ".join(NETS))
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--replay", nargs="+", metavar=("OURS.safetensors", "MODULE:N,C,H,W"),
                    help="with one net: compare bench/model_parity --save's gradients with f64 ones that take "
                         "the other PReLU slope at the given elements (see replay_flips)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    if args.replay:
        replay_flips(args.nets, args.replay[0], args.replay[1:])
        return
    os.makedirs(args.out, exist_ok=True)
    names = args.nets.split(",")
    for name in names:
        if name not in NETS:
            sys.exit(f"unknown net {name}; known: {', '.join(NETS)}")
    for name in names:
        make, seed = NETS[name]
        if not args.no_reference:
            write_reference(name, make, seed, args.out)
        if not args.no_timing:
            time_pytorch(name, make)


if __name__ == "__main__":
    main()
