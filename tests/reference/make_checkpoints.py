"""Real PyTorch checkpoints for the weights_import tests: writes tests/reference/checkpoints/.

Run with Debian's interpreter: /usr/bin/python3 tests/reference/make_checkpoints.py [--big PATH]

Every case is saved twice, as torch >= 1.6 writes it (<case>.pth, a zip) and as torch <= 1.5 did
(<case>.legacy.pth, _use_new_zipfile_serialization=False), next to <case>.expected.safetensors: the
tensors the C++ reader must return (after unwrapping and stripping "module."), contiguous, int32/16/8
widened to int64 and bool stored as uint8, plus metadata "wrapper", "stripped_prefix", "metadata" (JSON
object of text) and "skipped" (JSON list). Networks: a conv+BN net, a face.evoLVe IR-50 Backbone and a
single-stream ResNetCaffe-34, at 1/64 and 1/32 of their widths but with every real key name.

Hostile files (evil_*.pth) hold a payload that plain torch.load / pickle.load executes, a `touch` of
PWNED_PATH (checked here, then removed); the C++ test checks that reading them fails naming the global and
that PWNED_PATH is not created. zip_bomb.pth has a deflated 16 MB entry.

--big PATH writes a full-width IR-50 Backbone (~175 MB, not committed) for timing the reader.
"""
import collections
import json
import os
import sys
import zipfile

import torch
import torch.nn as nn

from make_models import BottleneckIR, caffe_stage
from reftools import Reference

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoints")
PWNED_PATH = "/tmp/hardtune_checkpoint_pwned"


# ---- networks -----------------------------------------------------------------------------------------
class ConvBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(2)
        self.fc = nn.Linear(2, 3)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        return self.fc(x.mean((2, 3)))


class EvolveIRBackbone(nn.Module):
    """face.evoLVe's IR-50 Backbone (REFERENCE.md 1.4 / 2.2): input_layer, a flat body of 3+4+14+3 units,
    output_layer = BN2d, Dropout, Flatten, Linear(C*spatial*spatial, emb), BN1d. widths = (stem, stage 1..4);
    se_reduction > 0 makes it face.evoLVe's IR-SE Backbone."""

    def __init__(self, widths, emb, units=(3, 4, 14, 3), se_reduction=0, spatial=7):
        super().__init__()
        self.input_layer = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]),
                                         nn.PReLU(widths[0]))
        body, cin = [], widths[0]
        for s, n in enumerate(units):
            for u in range(n):
                body.append(BottleneckIR(cin, widths[s + 1], 2 if u == 0 else 1, se_reduction))
                cin = widths[s + 1]
        self.body = nn.Sequential(*body)
        self.output_layer = nn.Sequential(nn.BatchNorm2d(cin), nn.Dropout(), nn.Flatten(),
                                          nn.Linear(cin * spatial * spatial, emb), nn.BatchNorm1d(emb))


class ResNetCaffe34(nn.Module):
    """The single-stream ResNetCaffe-34 of the MCS2018 / AFAD checkpoints (REFERENCE.md 1.3 / 2.1)."""

    def __init__(self, widths, blocks=(1, 2, 5, 3), emb=4, spatial=5):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, padding=0, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.PReLU(widths[0])
        for s in range(4):
            setattr(self, f"layer{s + 1}", caffe_stage(widths[s], widths[s + 1], blocks[s]))
        self.fc = nn.Linear(widths[4] * spatial * spatial, emb)


def perturbed(net, seed):
    """A state dict whose BN statistics and counters are not their defaults."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.2)
                m.running_mean.normal_(0.0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(seed * 1000 + 7)
    return net.state_dict()


# ---- cases --------------------------------------------------------------------------------------------
def views_case():
    """Non-contiguous tensors, storage offsets, stride 0, and several tensors sharing one storage."""
    torch.manual_seed(5)
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.5 - 3
    d = collections.OrderedDict()
    d["base"] = base
    d["transposed"] = base.t()
    d["rows"] = base[1:3]
    d["cols"] = base[:, 2:5]
    d["strided"] = base[::2, ::3]
    d["flat_tail"] = base.view(-1)[5:17]
    d["expanded"] = torch.arange(3, dtype=torch.float32).expand(4, 3)
    d["permuted"] = torch.randn(2, 3, 4).permute(2, 0, 1)
    d["scalar"] = torch.tensor(3.5)
    d["empty"] = torch.zeros(0, 3)
    return d


def dtypes_case():
    torch.manual_seed(6)
    x = torch.randn(2, 3)
    d = collections.OrderedDict()
    d["f32"] = x
    d["f64"] = x.double() / 3
    d["f16"] = (x * 100).half()
    d["bf16"] = (x * 100).bfloat16()
    d["i64"] = torch.tensor([-(2 ** 62), -1, 0, 1, 2 ** 40 + 3], dtype=torch.int64)
    d["u8"] = torch.tensor([0, 1, 127, 128, 255], dtype=torch.uint8)
    d["i32"] = torch.tensor([-(2 ** 31), -5, 0, 2 ** 31 - 1], dtype=torch.int32)
    d["i16"] = torch.tensor([-32768, -2, 7, 32767], dtype=torch.int16)
    d["i8"] = torch.tensor([-128, -1, 0, 127], dtype=torch.int8)
    d["bool"] = torch.tensor([True, False, True])
    d["f16_view"] = d["f16"].t()
    return d


def widened(t):
    if t.dtype in (torch.int32, torch.int16, torch.int8):
        return t.long()
    if t.dtype == torch.bool:
        return t.to(torch.uint8)
    return t


def cases():
    convbn = perturbed(ConvBN(), 1)
    ir50 = perturbed(EvolveIRBackbone((1, 1, 2, 4, 8), 4), 2)  # 1/64 of (64, 64, 128, 256, 512)
    caffe = perturbed(ResNetCaffe34((1, 2, 4, 8, 8)), 3)        # 1/32 of (32, 64, 128, 256, 512), last 1/64

    net = ConvBN()
    net.load_state_dict(convbn)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.randn(2, 3, 5, 5)).sum().backward()
    opt.step()
    dataparallel = {"state_dict": collections.OrderedDict(("module." + k, v) for k, v in convbn.items()),
                    "epoch": 7, "arch": "convbn", "best_acc": 0.875, "optimizer": opt.state_dict()}
    model_sd = collections.OrderedDict(convbn)
    model_sd["_extra"] = 5  # a non-tensor inside the state dict: skipped, not an error
    model = {"model": model_sd, "lr": 0.01, "converged": True, "note": None, "history": [1, 2]}

    # name: (object saved, the state dict inside it (None: the object), wrapper, prefix, metadata, skipped,
    # torch.save kwargs)
    return {
        "convbn": (convbn, convbn, "", "", {}, [], {}),
        "ir50_evolve": (ir50, ir50, "", "", {}, [], {}),
        "resnet_caffe34": (caffe, caffe, "", "", {}, [], {}),
        "dataparallel": (dataparallel, dataparallel["state_dict"], "state_dict", "module.",
                         {"epoch": "7", "arch": "convbn", "best_acc": "0.875"}, ["optimizer"], {}),
        "model_wrapper": (model, convbn, "model", "", {"lr": "0.01", "converged": "True", "note": "None"},
                          ["history", "model._extra"], {}),
        "views": (views_case(), None, "", "", {}, [], {}),
        "dtypes": (dtypes_case(), None, "", "", {}, [], {}),
        # Protocol 4: FRAME, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL instead of GLOBAL and BINPUT.
        "convbn_protocol4": (convbn, convbn, "", "", {}, [], {"pickle_protocol": 4}),
    }


def save_case(name, obj, expected, wrapper, prefix, metadata, skipped, kwargs):
    expected = obj if expected is None else expected
    torch.save(obj, os.path.join(OUT, name + ".pth"), **kwargs)
    torch.save(obj, os.path.join(OUT, name + ".legacy.pth"), _use_new_zipfile_serialization=False, **kwargs)
    ref = Reference(name)
    ref.tensors = {k[len(prefix):] if prefix else k: widened(v).contiguous() for k, v in expected.items()
                   if torch.is_tensor(v)}
    ref.metadata = {"wrapper": wrapper, "stripped_prefix": prefix, "metadata": json.dumps(metadata, sort_keys=True),
                    "skipped": json.dumps(sorted(skipped))}
    ref.save(os.path.join(OUT, name + ".expected.safetensors"))
    # Both files load back in torch to exactly the saved tensors.
    for suffix in (".pth", ".legacy.pth"):
        back = torch.load(os.path.join(OUT, name + suffix))
        back = back[wrapper] if wrapper else back
        for k, v in expected.items():
            if torch.is_tensor(v):
                assert torch.equal(back[k], v), (name, suffix, k)


# ---- hostile files ------------------------------------------------------------------------------------
class OsSystem:
    def __reduce__(self):
        return (os.system, ("touch " + PWNED_PATH,))


class BuiltinsEval:
    def __reduce__(self):
        return (eval, ("__import__('os').system('touch %s')" % PWNED_PATH,))


def check_payload_runs(path):
    """Plain torch.load (pickle without an allow-list) executes the payload: the file is a real attack."""
    if os.path.exists(PWNED_PATH):
        os.remove(PWNED_PATH)
    torch.load(path)
    assert os.path.exists(PWNED_PATH), path
    os.remove(PWNED_PATH)


def save_hostile():
    w = torch.arange(4, dtype=torch.float32)
    files = {
        "evil_os_system.pth": ({"w": w, "x": OsSystem()}, {}),
        "evil_os_system.legacy.pth": ({"w": w, "x": OsSystem()}, {"_use_new_zipfile_serialization": False}),
        "evil_eval.pth": ({"w": w, "x": BuiltinsEval()}, {}),
        "evil_stack_global.pth": ({"w": w, "x": OsSystem()}, {"pickle_protocol": 4}),
    }
    for name, (obj, kwargs) in files.items():
        path = os.path.join(OUT, name)
        torch.save(obj, path, **kwargs)
        check_payload_runs(path)
    # A deflated 16 MB entry in a few KB: a reader that inflated it would be a zip bomb's victim.
    with zipfile.ZipFile(os.path.join(OUT, "zip_bomb.pth"), "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("zip_bomb/data.pkl", open(os.path.join(OUT, "convbn.pth"), "rb").read()[64:128])
        z.writestr("zip_bomb/data/0", bytes(16 << 20))


def save_big(path):
    torch.manual_seed(0)
    net = EvolveIRBackbone((64, 64, 128, 256, 512), 512)
    torch.save(net.state_dict(), path)
    print(f"wrote {path}: {os.path.getsize(path) / 1e6:.1f} MB, {sum(v.numel() for v in net.state_dict().values())} elements")


def main():
    torch.set_num_threads(2)
    if "--big" in sys.argv:
        save_big(sys.argv[sys.argv.index("--big") + 1])
        return
    os.makedirs(OUT, exist_ok=True)
    for name, case in cases().items():
        save_case(name, *case)
    save_hostile()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files to {OUT}: {total} bytes")


if __name__ == "__main__":
    main()
