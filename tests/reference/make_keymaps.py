"""Reference for the key maps of REFERENCE.md §2: pretrained single-stream checkpoints with the original
projects' key names, and the logits of the multi-modal net loaded from them the reference way.

Run with Debian's interpreter: /usr/bin/python3 tests/reference/make_keymaps.py

For each case a "pretrained" single-stream net is built at reduced width with its real module names
(face.evoLVe `Backbone`: input_layer, body.N, output_layer; MCS2018-style ResNetCaffe: conv1, bn1, relu,
layer1..layer4, fc), its BN and PReLU state moved off the defaults, and saved as a real checkpoint:
  checkpoints/keymap_evolve_ir50.pth     legacy format (torch <= 1.5, like the 2019 face.evoLVe files)
  checkpoints/keymap_evolve_ir_se50.pth  legacy format, IR-SE units
  checkpoints/keymap_resnet_caffe.pth    zip format, {'state_dict': {'module.' + key: ...}, 'epoch': 3}
Then the DLAS-A net (make_models.py's classes, the widths of our *_tiny registry entries) takes the
pretrained weights through a transcription of the §2 tables; what the map leaves to init (the AggBlock
fusion convs, the classifier) is saved as "<case>.init.<key>" so the C++ test can set it too, and the
eval-mode logits on fixed inputs are the expected output ("<case>.logits"). keymaps.safetensors holds them.
"""
import collections
import os

import torch

from make_checkpoints import EvolveIRBackbone, ResNetCaffe34
from make_models import DLAS, IRFamily, ResNetCaffeFamily, perturb
from reftools import Reference

HERE = os.path.dirname(os.path.abspath(__file__))
CKPT = os.path.join(HERE, "checkpoints")


def map_evolve(src, dlas, units):
    """REFERENCE.md §2.2, row by row. Returns the dict given to load_state_dict(strict=False)."""
    starts = [sum(units[:s]) for s in range(5)]
    out = {}

    def unit_items(n):
        p = f"body.{n}."
        return [(k[len(p):], v) for k, v in src.items() if k.startswith(p)]

    for stream in ("rgb_backbone", "depth_backbone", "ir_backbone"):
        for k, v in src.items():
            if k.startswith("input_layer."):
                out[f"{stream}.{k}"] = v
        for s in range(1, 4):
            for i in range(units[s - 1]):
                for rest, v in unit_items(starts[s - 1] + i):
                    out[f"{stream}.layer{s}.{i}.{rest}"] = v
    for level in range(1, 4):
        for i in range(units[level]):
            for rest, v in unit_items(starts[level] + i):
                out[f"agg_layer{level}.agg_layer.{i}.{rest}"] = v
    for i in range(units[3]):
        for rest, v in unit_items(starts[3] + i):
            if rest.endswith("num_batches_tracked"):
                continue
            if i == 0 and rest in ("shortcut_layer.0.weight", "res_layer.1.weight"):
                v = torch.cat([v, v, v], 1)
            elif i == 0 and rest.startswith("res_layer.0."):
                v = torch.cat([v, v, v], 0)
            out[f"layer4.{i}.{rest}"] = v
    return out


def map_resnet_caffe(src):
    """REFERENCE.md §2.1, row by row."""
    out = {}
    for k, v in src.items():
        if k.endswith("num_batches_tracked"):
            continue
        top = k.split(".")[0]
        if top in ("conv1", "bn1", "relu", "layer1", "layer2", "layer3"):
            for stream in ("rgb_backbone", "depth_backbone", "ir_backbone"):
                out[f"{stream}.{k}"] = v
        if top in ("layer2", "layer3", "layer4"):
            level = int(top[-1]) - 1
            out[f"agg_layer{level}.agg_layer.{k[len(top) + 1:]}"] = v
        if top == "layer4":
            out[k] = torch.cat([v, v, v], 1) if k == "layer4.0.weight" else v
    return out


def run_case(ref, name, family, pretrained, mapped_fn, size, seed, expected_left):
    torch.manual_seed(seed)
    net = DLAS(family, "A")
    src = pretrained.state_dict()
    mapped = mapped_fn(src)
    result = net.load_state_dict(mapped, strict=False)
    assert not result.unexpected_keys, result.unexpected_keys
    left = sorted(result.missing_keys)
    assert all(expected_left(k) for k in left), [k for k in left if not expected_left(k)]
    net.eval()
    g = torch.Generator().manual_seed(seed + 100)
    inputs = [torch.randn(2, 3, size, size, generator=g) for _ in range(3)]
    with torch.no_grad():
        logits = net.double()(*(x.double() for x in inputs)).float()
    init = {f"init.{k}": net.state_dict()[k].float() for k in left if not k.endswith("num_batches_tracked")}
    ref.case(name, dict(size=size, left_to_init=len(left)), rgb=inputs[0], depth=inputs[1], ir=inputs[2],
             logits=logits, **init)
    print(f"{name}: {len(mapped)} mapped, {len(left)} left to init, logits {logits.flatten().tolist()}")


def save_legacy(obj, path):
    torch.save(obj, path, _use_new_zipfile_serialization=False)


def main():
    torch.set_num_threads(2)
    os.makedirs(CKPT, exist_ok=True)
    ref = Reference("keymaps")
    ir_widths, ir_units = [8, 8, 16, 32, 64], [1, 1, 2, 1]  # ir50_dlas_a_tiny / ir_se50_dlas_a_tiny
    for name, se in (("evolve_ir50", 0), ("evolve_ir_se50", 4)):
        torch.manual_seed(40 + se)
        pretrained = EvolveIRBackbone(ir_widths, ir_widths[4], ir_units, se, spatial=2)
        perturb(pretrained)
        save_legacy(pretrained.state_dict(), os.path.join(CKPT, f"keymap_{name}.pth"))
        run_case(ref, name, IRFamily(ir_widths, ir_units, se), pretrained,
                 lambda src: map_evolve(src, None, ir_units), 32, 50 + se,
                 lambda k: (k.startswith("agg_layer") and ".conv1." in k) or k.startswith("classifier.")
                 or (k.startswith("layer4.") and k.endswith("num_batches_tracked")))

    rn_widths, rn_blocks = [4, 8, 16, 32, 64], [1, 1, 2, 1]  # resnet34_dlas_a_tiny
    torch.manual_seed(60)
    pretrained = ResNetCaffe34(rn_widths, rn_blocks, emb=rn_widths[4], spatial=2)
    perturb(pretrained)
    wrapped = {"state_dict": collections.OrderedDict(("module." + k, v) for k, v in pretrained.state_dict().items()),
               "epoch": 3}
    torch.save(wrapped, os.path.join(CKPT, "keymap_resnet_caffe.pth"))
    run_case(ref, "resnet_caffe", ResNetCaffeFamily(rn_widths, rn_blocks), pretrained, map_resnet_caffe, 64, 61,
             lambda k: k.endswith("num_batches_tracked") or k.startswith("classifier.")
             or (k.startswith("agg_layer") and ".conv1." in k))
    ref.save()


if __name__ == "__main__":
    main()
