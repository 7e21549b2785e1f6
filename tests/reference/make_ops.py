"""PyTorch reference for the public ops (libnn/ops): writes tests/reference/ops.safetensors.

Run with Debian's interpreter: /usr/bin/python3 tests/reference/make_ops.py

Each case is one line of CASES: name, op, op parameters, input shapes. Inputs are drawn in f32; PyTorch
then evaluates the op in f64 on those exact f32 values and the results are rounded to f32, so the C++
test's tolerance measures our f32 error rather than PyTorch's own f32 rounding. Stored per case:
inputs (x, w, b, rm, rv, target, cw, x0.., a, cos), dy (random), y, and d<input> = dL/d<input> for
L = sum(y * dy); batch_norm training cases also store rm_out / rv_out, the updated running statistics.
The metadata of each case lists its "inputs" and differentiable "grads" so the C++ test is generic.
"""
import math

import torch
import torch.nn.functional as F

from reftools import Reference

CASES = [
    # name                     op                     params                                                         shapes
    ("bn_train_nc",            "batch_norm",          dict(training=True, momentum=0.1, eps=1e-5),                   dict(x=(16, 10))),
    ("bn_train_resnet",        "batch_norm",          dict(training=True, momentum=0.1, eps=1e-5),                   dict(x=(2, 64, 8, 8))),
    ("bn_train_odd",           "batch_norm",          dict(training=True, momentum=0.3, eps=1e-3),                   dict(x=(3, 5, 7, 5))),
    ("bn_train_batch1",        "batch_norm",          dict(training=True, momentum=0.1, eps=1e-5),                   dict(x=(1, 4, 3, 3))),
    ("bn_eval",                "batch_norm",          dict(training=False, momentum=0.1, eps=1e-5),                  dict(x=(2, 16, 7, 7))),
    ("bn_eval_nc",             "batch_norm",          dict(training=False, momentum=0.1, eps=1e-5),                  dict(x=(5, 12))),
    ("relu",                   "relu",                dict(),                                                        dict(x=(2, 8, 9, 9))),
    ("sigmoid",                "sigmoid",             dict(),                                                        dict(x=(4, 33))),
    ("prelu_channel",          "prelu",               dict(),                                                        dict(x=(2, 16, 7, 7), w=(16,))),
    ("prelu_shared",           "prelu",               dict(),                                                        dict(x=(3, 5, 4, 6), w=(1,))),
    ("prelu_nc",               "prelu",               dict(),                                                        dict(x=(8, 64), w=(64,))),
    ("maxpool_stem",           "max_pool2d",          dict(kernel=[3, 3], stride=[2, 2], padding=[1, 1]),            dict(x=(2, 16, 17, 17))),
    ("maxpool_k2s2_odd",       "max_pool2d",          dict(kernel=[2, 2], stride=[2, 2], padding=[0, 0]),            dict(x=(2, 3, 9, 8))),
    ("maxpool_subsample",      "max_pool2d",          dict(kernel=[1, 1], stride=[2, 2], padding=[0, 0]),            dict(x=(2, 4, 7, 7))),
    ("maxpool_rect",           "max_pool2d",          dict(kernel=[3, 2], stride=[2, 1], padding=[1, 1]),            dict(x=(1, 3, 8, 7))),
    ("avgpool_k3s2p1",         "avg_pool2d",          dict(kernel=[3, 3], stride=[2, 2], padding=[1, 1], count_include_pad=True),  dict(x=(2, 8, 9, 9))),
    ("avgpool_exclude_pad",    "avg_pool2d",          dict(kernel=[3, 3], stride=[2, 2], padding=[1, 1], count_include_pad=False), dict(x=(2, 8, 9, 9))),
    ("avgpool_k2s2",           "avg_pool2d",          dict(kernel=[2, 2], stride=[2, 2], padding=[0, 0], count_include_pad=True),  dict(x=(2, 16, 8, 8))),
    ("adaptive_avg_resnet",    "adaptive_avg_pool2d", dict(),                                                        dict(x=(2, 64, 7, 7))),
    ("global_max",             "global_max_pool2d",   dict(),                                                        dict(x=(2, 32, 5, 5))),
    ("cat_dim1",               "cat",                 dict(dim=1),                                                   dict(x0=(2, 3, 4, 4), x1=(2, 5, 4, 4), x2=(2, 1, 4, 4))),
    ("cat_dim0",               "cat",                 dict(dim=0),                                                   dict(x0=(1, 3, 2, 2), x1=(2, 3, 2, 2))),
    ("cat_dim_last",           "cat",                 dict(dim=-1),                                                  dict(x0=(2, 3, 4, 1), x1=(2, 3, 4, 3))),
    ("add_channel",            "add",                 dict(),                                                        dict(a=(2, 16, 5, 5), b=(2, 16, 1, 1))),
    ("add_shared",             "add",                 dict(),                                                        dict(a=(3, 8, 4, 4), b=(1, 8, 1, 1))),
    ("mul_channel",            "mul",                 dict(),                                                        dict(a=(2, 64, 7, 7), b=(2, 64, 1, 1))),
    ("mul_shared",             "mul",                 dict(),                                                        dict(a=(3, 8, 4, 4), b=(1, 8, 1, 1))),
    ("mul_same",               "mul",                 dict(),                                                        dict(a=(4, 5, 6), b=(4, 5, 6))),
    ("log_softmax",            "log_softmax",         dict(),                                                        dict(x=(6, 10))),
    ("ce_plain",               "cross_entropy",       dict(label_smoothing=0.0),                                     dict(x=(8, 10), target=(8,))),
    ("ce_weight_smooth",       "cross_entropy",       dict(label_smoothing=0.1),                                     dict(x=(16, 7), target=(16,), cw=(7,))),
    ("ce_smooth",              "cross_entropy",       dict(label_smoothing=0.2),                                     dict(x=(5, 100), target=(5,))),
    ("ce_ignore_weight",       "cross_entropy",       dict(label_smoothing=0.05, ignore_rows=[1, 4]),                dict(x=(6, 4), target=(6,), cw=(4,))),
    ("l2_normalize",           "l2_normalize",        dict(dim=1),                                                   dict(x=(8, 128))),
    ("l2_normalize_dim0",      "l2_normalize",        dict(dim=0),                                                   dict(x=(5, 6))),
    ("conv_stage_k3p0",        "conv2d",              dict(stride=[1, 1], padding=[0, 0], dilation=[1, 1], groups=1), dict(x=(2, 8, 12, 12), w=(16, 8, 3, 3))),
    ("conv_block_k3p1",        "conv2d",              dict(stride=[1, 1], padding=[1, 1], dilation=[1, 1], groups=1), dict(x=(2, 16, 7, 7), w=(16, 16, 3, 3))),
    ("conv_fusion_1x1_bias",   "conv2d",              dict(stride=[1, 1], padding=[0, 0], dilation=[1, 1], groups=1), dict(x=(2, 24, 6, 6), w=(8, 24, 1, 1), b=(8,))),
    ("conv_ir_stride2",        "conv2d",              dict(stride=[2, 2], padding=[1, 1], dilation=[1, 1], groups=1), dict(x=(2, 8, 9, 9), w=(12, 8, 3, 3))),
    ("conv_shortcut_1x1_s2",   "conv2d",              dict(stride=[2, 2], padding=[0, 0], dilation=[1, 1], groups=1), dict(x=(2, 8, 8, 8), w=(16, 8, 1, 1))),
    ("conv_groups_dilation",   "conv2d",              dict(stride=[1, 2], padding=[2, 1], dilation=[2, 1], groups=2), dict(x=(1, 6, 9, 8), w=(4, 3, 3, 2), b=(4,))),
    ("conv_depthwise",         "conv2d",              dict(stride=[1, 1], padding=[1, 1], dilation=[1, 1], groups=5), dict(x=(3, 5, 6, 7), w=(5, 1, 3, 3))),
    ("linear_head",            "linear",              dict(),                                                        dict(x=(4, 512), w=(2, 512), b=(2,))),
    ("linear_nobias",          "linear",              dict(),                                                        dict(x=(3, 17), w=(9, 17))),
    # Appended (the generator draws in CASES order, so new lines go last and leave earlier data unchanged).
    ("mean_dim_channel",       "mean_dim",            dict(dim=1, keepdim=True),                                     dict(x=(2, 16, 5, 6))),
    ("mean_dim_last",          "mean_dim",            dict(dim=-1, keepdim=False),                                   dict(x=(3, 4, 7))),
    ("mean_dim_batch",         "mean_dim",            dict(dim=0, keepdim=False),                                    dict(x=(5, 8))),
    ("amax_dim_channel",       "amax_dim",            dict(dim=1, keepdim=True),                                     dict(x=(2, 16, 5, 6))),
    ("amax_dim_mid",           "amax_dim",            dict(dim=2, keepdim=False),                                    dict(x=(2, 3, 9, 4))),
    ("amax_dim_last",          "amax_dim",            dict(dim=-1, keepdim=True),                                    dict(x=(6, 11))),
    ("sqrt",                   "sqrt",                dict(),                                                        dict(x=(4, 33))),
    ("clamp",                  "clamp",               dict(lo=-0.5, hi=0.8),                                         dict(x=(4, 5, 6))),
    ("clamp_min",              "clamp",               dict(lo=0.0, hi=None),                                         dict(x=(64,))),
    ("mul_spatial",            "mul",                 dict(),                                                        dict(a=(2, 8, 5, 5), b=(2, 1, 5, 5))),
    ("spatial_attention",      "spatial_attention",   dict(padding=3),                                               dict(x=(2, 8, 9, 7), w=(1, 2, 7, 7), b=(1,))),
    ("spatial_attention_k3",   "spatial_attention",   dict(padding=1),                                               dict(x=(1, 5, 6, 6), w=(1, 2, 3, 3))),
    # arc_margin: target_cos overrides cos[i, target[i]] for the first rows (both branches, the 0 boundary).
    ("arc_margin_easy",        "arc_margin",          dict(s=30.0, m=0.5, easy_margin=True, target_cos=[0.0, -0.4, 0.7]),  dict(cos=(16, 4), target=(16,))),
    ("arc_margin_hard",        "arc_margin",          dict(s=30.0, m=0.5, easy_margin=False, target_cos=[-0.95, -0.9, -0.5, 0.0, 0.3, 0.95]), dict(cos=(16, 4), target=(16,))),
    ("arc_margin_5e-2",        "arc_margin",          dict(s=30.0, m=0.05, easy_margin=True, target_cos=[0.0, -0.2, 0.6]),  dict(cos=(8, 2), target=(8,))),
    # arc_margin_head = ArcMarginProduct in training mode: x[i] = align[i] * w[target[i]] + noise spreads cos.
    ("arc_head_easy",          "arc_margin_head",     dict(s=30.0, m=0.5, easy_margin=True, align=[-2.0, -0.5, 0.3, 1.0, 3.0]), dict(x=(8, 64), w=(2, 64), target=(8,))),
    ("arc_head_hard",          "arc_margin_head",     dict(s=30.0, m=0.5, easy_margin=False, align=[-6.0, -3.0, -1.0, 0.5, 2.0]), dict(x=(8, 64), w=(2, 64), target=(8,))),
    ("arc_head_5e-2",          "arc_margin_head",     dict(s=30.0, m=0.05, easy_margin=True, align=[-1.0, 0.2, 1.5]),  dict(x=(6, 512), w=(2, 512), target=(6,))),
    # Large enough that all three passes run Winograd F(4x4, 3x3) (>= 48 tiles, >= 16 channels; 13x13
    # leaves partial edge tiles), whose transforms round ~20x more than a direct sum: rtol, the C++
    # test's bound for this case (see test_ops_parity.cpp). Appended last: the generator is sequential,
    # so earlier cases keep their data.
    ("conv_winograd_k3p1",     "conv2d",              dict(stride=[1, 1], padding=[1, 1], dilation=[1, 1], groups=1, rtol=2e-5), dict(x=(3, 16, 13, 13), w=(16, 16, 3, 3), b=(16,))),
]

NOT_DIFFERENTIABLE = {"target", "cw", "rm", "rv"}


def make_inputs(op, params, shapes, gen):
    inputs = {}
    for role, shape in shapes.items():
        if role == "target":
            c = shapes["w"][0] if op == "arc_margin_head" else shapes["cos" if op == "arc_margin" else "x"][1]
            t = torch.randint(0, c, shape, generator=gen)
            for r in params.get("ignore_rows", []):
                t[r] = -100
            inputs[role] = t
        elif role == "cw":
            inputs[role] = torch.rand(shape, generator=gen) + 0.5
        elif role == "w" and op == "prelu":
            inputs[role] = torch.rand(shape, generator=gen) * 0.5 - 0.1
        elif role == "x" and op == "sqrt":
            inputs[role] = torch.rand(shape, generator=gen) * 4 + 0.1
        elif role == "cos":
            inputs[role] = torch.rand(shape, generator=gen) * 1.96 - 0.98
        else:
            inputs[role] = torch.randn(shape, generator=gen)
    if op == "arc_margin":
        for i, v in enumerate(params.get("target_cos", [])):
            inputs["cos"][i, inputs["target"][i]] = v
    if op == "arc_margin_head":
        for i, a in enumerate(params["align"]):
            inputs["x"][i] += a * inputs["w"][inputs["target"][i]]
    if op == "batch_norm":
        c = shapes["x"][1]
        inputs["w"] = torch.rand(c, generator=gen) + 0.5
        inputs["b"] = torch.randn(c, generator=gen) * 0.1
        inputs["rm"] = torch.randn(c, generator=gen) * 0.1
        inputs["rv"] = torch.rand(c, generator=gen) + 0.5
    return inputs


def forward(op, p, t):
    if op == "batch_norm":
        return F.batch_norm(t["x"], t["rm"], t["rv"], t["w"], t["b"], p["training"], p["momentum"], p["eps"])
    if op == "relu":
        return F.relu(t["x"])
    if op == "sigmoid":
        return torch.sigmoid(t["x"])
    if op == "prelu":
        return F.prelu(t["x"], t["w"])
    if op == "max_pool2d":
        return F.max_pool2d(t["x"], p["kernel"], p["stride"], p["padding"])
    if op == "avg_pool2d":
        return F.avg_pool2d(t["x"], p["kernel"], p["stride"], p["padding"], count_include_pad=p["count_include_pad"])
    if op == "adaptive_avg_pool2d":
        return F.adaptive_avg_pool2d(t["x"], 1)
    if op == "global_max_pool2d":
        return F.adaptive_max_pool2d(t["x"], 1)
    if op == "cat":
        return torch.cat([t[k] for k in sorted(t) if k.startswith("x")], p["dim"])
    if op == "add":
        return t["a"] + t["b"]
    if op == "mul":
        return t["a"] * t["b"]
    if op == "log_softmax":
        return F.log_softmax(t["x"], dim=1)
    if op == "cross_entropy":
        return F.cross_entropy(t["x"], t["target"], weight=t.get("cw"), label_smoothing=p["label_smoothing"])
    if op == "conv2d":
        return F.conv2d(t["x"], t["w"], t.get("b"), p["stride"], p["padding"], p["dilation"], p["groups"])
    if op == "linear":
        return F.linear(t["x"], t["w"], t.get("b"))
    if op == "l2_normalize":
        return F.normalize(t["x"], p=2.0, dim=p["dim"], eps=1e-12)
    if op == "mean_dim":
        return torch.mean(t["x"], dim=p["dim"], keepdim=p["keepdim"])
    if op == "amax_dim":
        return torch.max(t["x"], dim=p["dim"], keepdim=p["keepdim"]).values
    if op == "sqrt":
        return torch.sqrt(t["x"])
    if op == "clamp":
        return torch.clamp(t["x"], p["lo"], p["hi"])
    if op == "spatial_attention":  # the reference's SpatialAttention: cat(avg, max) -> conv -> sigmoid -> x *
        maps = torch.cat([torch.mean(t["x"], dim=1, keepdim=True), torch.max(t["x"], dim=1, keepdim=True).values], 1)
        return t["x"] * torch.sigmoid(F.conv2d(maps, t["w"], t.get("b"), padding=p["padding"]))
    if op == "arc_margin":
        return arc_margin(t["cos"], t["target"], p)
    if op == "arc_margin_head":
        return arc_margin(F.linear(F.normalize(t["x"]), F.normalize(t["w"])), t["target"], p)
    raise ValueError(op)


def arc_margin(cos, label, p):
    """ArcMarginProduct.forward in training mode (REFERENCE.md 1.6), with sine clamped at 0 as libnn does
    (the reference takes sqrt(1 - cos^2) unclamped: NaN once rounding pushes |cos| past 1)."""
    s, m = p["s"], p["m"]
    sine = torch.sqrt((1.0 - torch.pow(cos, 2)).clamp(min=0))
    phi = cos * math.cos(m) - sine * math.sin(m)
    if p["easy_margin"]:
        phi = torch.where(cos > 0, phi, cos)
    else:
        phi = torch.where(cos > math.cos(math.pi - m), phi, cos - math.sin(math.pi - m) * m)
    one_hot = torch.zeros_like(cos)
    one_hot.scatter_(1, label.view(-1, 1).long(), 1)
    return s * ((one_hot * phi) + ((1.0 - one_hot) * cos))


def main():
    ref = Reference("ops")
    gen = torch.Generator().manual_seed(20240611)
    for name, op, params, shapes in CASES:
        inputs = make_inputs(op, params, shapes, gen)
        grads = [r for r in inputs if r not in NOT_DIFFERENTIABLE]
        t64 = {r: (v.double() if v.is_floating_point() else v.clone()) for r, v in inputs.items()}
        for r in grads:
            t64[r].requires_grad_(True)
        y = forward(op, params, t64)
        dy = torch.randn(y.shape, generator=gen)
        (y * dy.double()).sum().backward()
        out = {"y": y.float(), "dy": dy}
        out.update({"d" + r: t64[r].grad.float() for r in grads})
        if op == "batch_norm" and params["training"]:
            out["rm_out"], out["rv_out"] = t64["rm"].float(), t64["rv"].float()
        ref.case(name, dict(params, op=op, inputs=sorted(inputs), grads=sorted(grads)), **inputs, **out)
    ref.save()


if __name__ == "__main__":
    main()
