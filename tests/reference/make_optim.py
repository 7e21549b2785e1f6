"""Reference trajectories for libnn/optim: torch.optim.SGD / Adam / AdamW and the LR schedulers.

Run with Debian's interpreter: /usr/bin/python3 tests/reference/make_optim.py

Optimizer cases: two parameters p0 (5, 3) and p1 (4,), targets t0, t1. At step s = 1..100 the gradient is
    grad = 2 * (p - t) + 0.1 * sin(s)          (in the parameter's dtype, the C++ test computes the same)
except that p1 gets no gradient (grad None) when skip_p1_every > 0 and s % skip_p1_every == 0, so the
optimizer must skip it. One group holds both parameters; with two groups, p0 is in group 0 and p1 in
group 1. Saved: p0_init, p1_init, t0, t1, the parameters after every 10th step (p0_traj (10, 5, 3),
p1_traj (10, 4)) and the final optimizer state (p0_<buffer>, p1_<buffer>, p1_step).

Scheduler cases: an SGD optimizer with two groups (lr 0.1 and 0.02); lrs (61, 2) holds get_last_lr() after
construction (row 0) and after each of 60 step() calls.
"""
import math

import torch

from reftools import Reference

STEPS = 100
EVERY = 10

OPTIM_CASES = [
    # name, optimizer, groups (list of kwargs; one entry = one group with both params), skip_p1_every
    ("sgd_plain", "sgd", [dict(lr=0.05)], 0),
    ("sgd_momentum", "sgd", [dict(lr=0.05, momentum=0.9)], 3),
    ("sgd_nesterov_wd", "sgd", [dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2)], 0),
    ("sgd_dampening_wd", "sgd", [dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=5e-4)], 0),
    ("sgd_groups", "sgd", [dict(lr=0.1, momentum=0.9),
                           dict(lr=0.01, momentum=0.5, nesterov=True, weight_decay=0.1)], 3),
    ("adam_recipe", "adam", [dict(lr=0.02, betas=(0.5, 0.999))], 0),
    ("adam_default_wd", "adam", [dict(lr=0.01, weight_decay=0.1)], 3),
    ("adamw_default", "adamw", [dict(lr=0.01)], 0),
    ("adamw_groups", "adamw", [dict(lr=0.02, weight_decay=0.01),
                               dict(lr=0.005, weight_decay=0.5, betas=(0.8, 0.99), eps=1e-6)], 3),
]

SCHED_CASES = [
    ("step_lr", "StepLR", dict(step_size=7, gamma=0.5)),
    ("cosine", "CosineAnnealingLR", dict(T_max=20, eta_min=1e-3)),
    ("cosine_eta0", "CosineAnnealingLR", dict(T_max=13)),
    ("warm_restarts", "CosineAnnealingWarmRestarts", dict(T_0=10, T_mult=2, eta_min=1e-4)),
    ("warm_restarts_mult1", "CosineAnnealingWarmRestarts", dict(T_0=7)),
]


def make_optimizer(kind, groups, p0, p1):
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[kind]
    if len(groups) == 1:
        param_groups = [dict(params=[p0, p1], **groups[0])]
    else:
        param_groups = [dict(params=[p0], **groups[0]), dict(params=[p1], **groups[1])]
    return cls(param_groups, foreach=False)


def optim_case(ref, name, kind, groups, skip, dtype):
    gen = torch.Generator().manual_seed(1234)
    p0 = torch.randn(5, 3, generator=gen, dtype=torch.float64).to(dtype).requires_grad_()
    p1 = torch.randn(4, generator=gen, dtype=torch.float64).to(dtype).requires_grad_()
    t0 = torch.randn(5, 3, generator=gen, dtype=torch.float64).to(dtype)
    t1 = torch.randn(4, generator=gen, dtype=torch.float64).to(dtype)
    p0_init, p1_init = p0.detach().clone(), p1.detach().clone()
    opt = make_optimizer(kind, groups, p0, p1)
    traj0, traj1 = [], []
    for s in range(1, STEPS + 1):
        with torch.no_grad():
            p0.grad = 2 * (p0 - t0) + 0.1 * math.sin(s)
            p1.grad = None if skip and s % skip == 0 else 2 * (p1 - t1) + 0.1 * math.sin(s)
        opt.step()
        if s % EVERY == 0:
            traj0.append(p0.detach().clone())
            traj1.append(p1.detach().clone())
    state = {}
    for role, p in (("p0", p0), ("p1", p1)):
        for key, value in opt.state[p].items():
            if key == "step":
                state[f"{role}_step"] = value.detach().to(torch.float64).reshape(())
            else:
                state[f"{role}_{key}"] = value
    groups_json = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in groups]
    ref.case(f"{name}_{dtype_tag(dtype)}",
             dict(kind="optimizer", optimizer=kind, dtype=dtype_tag(dtype), groups=groups_json,
                  skip_p1_every=skip, steps=STEPS, every=EVERY),
             p0_init=p0_init, p1_init=p1_init, t0=t0, t1=t1,
             p0_traj=torch.stack(traj0), p1_traj=torch.stack(traj1), **state)


def sched_case(ref, name, cls_name, kwargs):
    a = torch.zeros(3, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    opt = torch.optim.SGD([dict(params=[a], lr=0.1), dict(params=[b], lr=0.02)], lr=0.1)
    sched = getattr(torch.optim.lr_scheduler, cls_name)(opt, **kwargs)
    rows = [list(sched.get_last_lr())]
    for _ in range(60):
        opt.step()
        sched.step()
        rows.append(list(sched.get_last_lr()))
    ref.case(name, dict(kind="scheduler", scheduler=cls_name, base_lrs=[0.1, 0.02], **kwargs),
             lrs=torch.tensor(rows, dtype=torch.float64))


def dtype_tag(dtype):
    return {torch.float32: "f32", torch.float64: "f64"}[dtype]


def main():
    ref = Reference("optim")
    for dtype in (torch.float32, torch.float64):
        for name, kind, groups, skip in OPTIM_CASES:
            optim_case(ref, name, kind, groups, skip, dtype)
    for name, cls_name, kwargs in SCHED_CASES:
        sched_case(ref, name, cls_name, kwargs)
    ref.save()


if __name__ == "__main__":
    main()
