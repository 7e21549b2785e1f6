"""Training parity reference (issue 6): STEPS Adam steps of the registry's small DLAS nets in PyTorch, the
recipe's loop at small scale. Writes train_parity_<family>.safetensors, one per net (each ~1 MB).

Run with Debian's interpreter: /usr/bin/python3 tests/reference/make_train_parity.py

The nets are make_models.py's transcriptions at the widths and unit counts of the registry's
resnet34_dlas_a_tiny and ir50_dlas_a_tiny (models/registry.cpp). The loop is REFERENCE.md §3.3's: only the
backbone's parameters go to Adam (betas 0.5/0.999, eps 1e-8 as in the recipe), the Linear classifier stays
at its random init, cross-entropy, train-mode BN (batch statistics, running stats updated with momentum
0.1). lr is 1e-3, not the recipe's 2e-5, so that 20 steps move the weights visibly. Fixed batches, no
augmentation: batch b = step % BATCHES.

Compactness: the initial state is stored in f16 (the weights are rounded to f16 first, so the file holds
them exactly and both sides start from the same numbers), the inputs as u8 images mapped to
(u8 - 128) / 64 (exact in every float type). The run is in float64; the C++ test repeats it in float64
(semantics at round-off level) and float32 (the spec's 1e-4). The final weights are compared
loosely through a sketch per parameter tensor: the norm of its update (final - init) and the update's dot
products with SKETCH fixed +-1 vectors (sketch_matrix below; tests/test_train_parity.cpp computes the same);
the final BN running statistics are stored in full.

Per case "<model>": init.<key> (f16; i64 for num_batches_tracked), images (u8 (BATCHES, 3, BATCH, 3, S, S):
batch, modality rgb/depth/ir, sample, CHW), labels (i64 (BATCHES, BATCH)), losses (f64 (STEPS)),
update_norm.<key> (f64 scalar), update_sketch.<key> (f64 (SKETCH)), final.<buffer key> (f32).
The case's parameters also record the same loop in PyTorch float32 (torch_f32_loss_rel_err): the scale of
plain f32 round-off over the run, the yardstick for the C++ (f32) result.
"""
import torch
import torch.nn.functional as F

from make_models import DLAS, IRFamily, ResNetCaffeFamily, perturb
from reftools import Reference

STEPS = 20
BATCH = 4
BATCHES = 2
LR = 1e-3
BETAS = (0.5, 0.999)
EPS = 1e-8
SKETCH = 4


def sketch_matrix(n):
    """(SKETCH, n): element i of vector j is +1 or -1 by bit 13 of the 32-bit hash i * 2654435761 + (j + 1) * 40503."""
    i = torch.arange(n, dtype=torch.int64)
    rows = []
    for j in range(SKETCH):
        h = (i * 2654435761 + (j + 1) * 40503) & 0xFFFFFFFF
        rows.append(1.0 - 2.0 * ((h >> 13) & 1).double())
    return torch.stack(rows)  # (SKETCH, n)


def make_batches(seed, size):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (BATCHES, 3, BATCH, 3, size, size), generator=g, dtype=torch.uint8)
    labels = torch.tensor([[1, 0, 1, 0], [0, 0, 1, 1]], dtype=torch.int64)
    return images, labels


def inputs_of(images, b, dtype):
    x = (images[b].to(torch.int64) - 128).to(dtype) / 64
    return x[0], x[1], x[2]


def train(net, images, labels, dtype):
    """The recipe's loop; returns the losses. The classifier is not given to the optimizer (§3.3)."""
    net.to(dtype).train()
    params = [p for k, p in net.named_parameters() if not k.startswith("classifier.")]
    opt = torch.optim.Adam(params, lr=LR, betas=BETAS, eps=EPS)
    losses = []
    for step in range(STEPS):
        b = step % BATCHES
        opt.zero_grad()
        loss = F.cross_entropy(net(*inputs_of(images, b, dtype)), labels[b])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def run_case(name, family, size, seed):
    torch.manual_seed(seed)
    net = DLAS(family, "A")
    perturb(net)  # BN affine, running stats and PReLU off their defaults, so loading them is tested
    with torch.no_grad():
        for t in list(net.parameters()) + list(net.buffers()):
            if t.is_floating_point():
                t.copy_(t.half().float())
    init = {k: v.clone() for k, v in net.state_dict().items()}
    images, labels = make_batches(seed, size)

    net32 = DLAS(family, "A")
    net32.load_state_dict(init)
    losses32 = train(net32, images, labels, torch.float32)
    losses = train(net, images, labels, torch.float64)
    f32_err = max(abs(a - b) / abs(b) for a, b in zip(losses32, losses))

    tensors = {"images": images, "labels": labels, "losses": torch.tensor(losses, dtype=torch.float64)}
    for k, v in init.items():
        tensors[f"init.{k}"] = v if v.dtype == torch.int64 else v.half()
    final = net.state_dict()
    for k, p in net.named_parameters():
        update = (p.detach() - init[k].double()).flatten()
        tensors[f"update_norm.{k}"] = update.norm()
        tensors[f"update_sketch.{k}"] = sketch_matrix(update.numel()) @ update
    for k, b in net.named_buffers():
        if b.is_floating_point():
            tensors[f"final.{k}"] = final[k].float()
    n_params = sum(p.numel() for p in net.parameters())
    ref = Reference(f"train_parity_{name.split('_')[0]}")
    ref.case(name, dict(steps=STEPS, batch=BATCH, batches=BATCHES, size=size, lr=LR, beta1=BETAS[0],
                        beta2=BETAS[1], eps=EPS, sketch=SKETCH, params=n_params,
                        torch_f32_loss_rel_err=f32_err), **tensors)
    ref.save()
    print(f"{name}: {n_params} params; losses {losses[0]:.6f} -> {losses[-1]:.6f}; "
          f"torch f32 vs f64 max rel. loss error {f32_err:.2e}")


def main():
    torch.set_num_threads(2)
    # The registry's _tiny configs: width x1/8, blocks/units {1, 1, 2, 1}. The smallest inputs that leave
    # layer4 2x2 (BN statistics over more than one value per sample): 64x64 for ResNetCaffe, 32x32 for IR.
    run_case("resnet34_dlas_a_tiny", ResNetCaffeFamily([4, 8, 16, 32, 64], [1, 1, 2, 1]), 64, 41)
    run_case("ir50_dlas_a_tiny", IRFamily([8, 8, 16, 32, 64], [1, 1, 2, 1], 0), 32, 42)


if __name__ == "__main__":
    main()
