"""Reference state for a small network built from the standard layers: writes tinynet.safetensors.

Run with Debian's interpreter: /usr/bin/python3 tests/reference/make_tinynet.py

The net uses every layer type of the HardTune streams (conv without bias, BN, PReLU, max-pool, a padded
conv, global average pool, linear head). Stored: the initial state_dict ("init.<key>"), one batch
(x, labels), the loss of each of STEPS Adam steps (betas 0.5/0.999 as in the recipe) in training mode,
every parameter gradient of the first step ("grad0.<key>"), the final state_dict including BN running
statistics ("final.<key>"), and the eval-mode logits of the final model.
"""
import json

import torch
import torch.nn as nn

from reftools import Reference

STEPS = 5


def tinynet():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.PReLU(8), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.PReLU(16),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 2))


def main():
    torch.manual_seed(7)
    net = tinynet().float().double()  # f32-representable weights: both sides start equal
    x = torch.randn(4, 3, 12, 12).double()
    labels = torch.tensor([1, 0, 0, 1])
    ref = Reference("tinynet")
    init = {k: v.clone() for k, v in net.state_dict().items()}
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.5, 0.999))
    losses, grads0 = [], {}
    for step in range(STEPS):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x), labels)
        loss.backward()
        if step == 0:
            grads0 = {k: p.grad.clone() for k, p in net.named_parameters()}
        opt.step()
        losses.append(loss.item())
    net.eval()
    logits = net(x).detach()
    tensors = {"x": x.float(), "labels": labels, "losses": torch.tensor(losses, dtype=torch.float64),
               "eval_logits": logits.float()}
    tensors.update({f"init.{k}": v if v.dtype == torch.int64 else v.float() for k, v in init.items()})
    tensors.update({f"grad0.{k}": v.float() for k, v in grads0.items()})
    tensors.update({f"final.{k}": v if v.dtype == torch.int64 else v.float() for k, v in net.state_dict().items()})
    ref.case("adam", dict(steps=STEPS, lr=1e-2, beta1=0.5, beta2=0.999, keys=list(init.keys())), **tensors)
    ref.save()


if __name__ == "__main__":
    main()
