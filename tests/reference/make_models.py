"""Reference state for the HardTune networks at reduced width: writes models_{resnet34,ir50,baseline}.safetensors
(one file per family, each well under 2 MB).

Run with Debian's interpreter: /usr/bin/python3 tests/reference/make_models.py

Each network is written here from the spec (shared/spec/REFERENCE.md §1.2-1.5), with the reference's
module names so the state_dict keys are the ones our C++ models register: ResNetCaffe-34 DLAS A/B/C and
IR-50 / IR-SE-50 DLAS A, parameterised by widths and block/unit counts, with a Linear classifier; and the
CASIA-SURF baseline (models/baseline.h: torchvision ResNet-18 streams, SE fusion, shared layer4) at
reduced width. tools/full_size_parity.py imports these classes for the full-size comparison.

Per model case ("<model>.<role>"): the initial state_dict ("init.<key>", f32-representable: weights
are made in f32 and run in f64), the train-mode logits and cross-entropy loss of the first forward, every
parameter gradient of that step ("grad0.<key>"), the BN running statistics after it ("stats0.<key>"), the
losses of STEPS Adam steps (betas 0.5/0.999 as in the recipe) in train mode, and the eval-mode logits
after them. BN affine parameters, running statistics and PReLU slopes are moved away from their defaults
so that loading them is actually tested. Inputs are shared per family (case "<family>_inputs").
Everything is computed in float64 and stored as f32. With --check-counts the script first checks that
the same classes at full size have the parameter counts of REFERENCE.md §1.7 (needs ~2 GB of memory).
"""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from reftools import Reference

STEPS = 5
BATCH = 2
LR = 1e-4
BETAS = (0.5, 0.999)
# Not the recipe's 1e-8: in train mode some IR-DLAS parameters have a gradient that is zero in exact
# arithmetic (the last BN biases of agg_layer1/2's units and the BN after their conv shortcut: A1 and A2
# feed only BN-normalised paths, so a per-channel shift of them cannot change the loss). Such a gradient is
# f64 round-off (1e-17) here and f32 round-off (1e-8) in the C++ run; with eps 1e-8 Adam would turn the
# latter into steps of about lr that the reference does not take, and the eval logits would differ by
# ~1e-4. eps 1e-6 keeps those steps ~50x smaller and is still far below every real gradient (>= 3e-5).
EPS = 1e-6


# ---- DLAS-B channel attention (§1.5) ------------------------------------------------------------------
class ChannelAttention(nn.Module):
    def __init__(self, c, hidden):
        super().__init__()
        self.se_fc1 = nn.Conv2d(c, hidden, 1)
        self.se_fc2 = nn.Conv2d(hidden, c, 1)

    def forward(self, x):
        k = x.shape[2]  # square maps: a kernel of H is a global pool
        mx = F.relu(self.se_fc1(F.max_pool2d(x, k)))
        av = F.relu(self.se_fc1(F.avg_pool2d(x, k)))
        return x * torch.sigmoid(self.se_fc2(mx + av))


# ---- ResNetCaffe (§1.3) -------------------------------------------------------------------------------
class BasicBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu1 = nn.PReLU(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.relu2 = nn.PReLU(c)

    def forward(self, x):
        y = self.relu1(self.bn1(self.conv1(x)))
        y = self.relu2(self.bn2(self.conv2(y)))
        return x + y  # no activation after the add


def caffe_stage(cin, cout, blocks):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=0, bias=False), nn.BatchNorm2d(cout), nn.PReLU(cout),
                         nn.MaxPool2d(2, 2), *[BasicBlock(cout) for _ in range(blocks)])


class ResNetCaffeStream(nn.Module):
    def __init__(self, widths, blocks, attention):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, padding=0, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.PReLU(widths[0])
        for s in range(1, 4):
            setattr(self, f"layer{s}", caffe_stage(widths[s - 1], widths[s], blocks[s - 1]))
            if attention:
                setattr(self, f"ch_att{s}", ChannelAttention(widths[s], widths[s] // 4))
        self.attention = attention

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        levels = []
        for s in range(1, 4):
            x = getattr(self, f"layer{s}")(x)
            if self.attention:
                x = getattr(self, f"ch_att{s}")(x)  # in-line: it also feeds the next stage
            levels.append(x)
        return levels


class ResNetCaffeFamily:
    def __init__(self, widths, blocks):
        self.widths, self.blocks = widths, blocks
        self.levels = widths[1:4]
        self.out = widths[4]

    def stream(self, attention):
        return ResNetCaffeStream(self.widths, self.blocks, attention)

    def stage(self, s, cin):  # the structure of stage s (2..4) on cin inputs
        return caffe_stage(cin, self.widths[s], self.blocks[s - 1])


# ---- IR / IR-SE (§1.4) --------------------------------------------------------------------------------
class SEModule(nn.Module):
    def __init__(self, c, reduction):
        super().__init__()
        self.fc1 = nn.Conv2d(c, c // reduction, 1, bias=False)
        self.fc2 = nn.Conv2d(c // reduction, c, 1, bias=False)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(s))))


class BottleneckIR(nn.Module):
    def __init__(self, cin, depth, stride, se_reduction):
        super().__init__()
        if cin == depth:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(nn.Conv2d(cin, depth, 1, stride, bias=False), nn.BatchNorm2d(depth))
        res = [nn.BatchNorm2d(cin), nn.Conv2d(cin, depth, 3, 1, 1, bias=False), nn.PReLU(depth),
               nn.Conv2d(depth, depth, 3, stride, 1, bias=False), nn.BatchNorm2d(depth)]
        if se_reduction:
            res.append(SEModule(depth, se_reduction))
        self.res_layer = nn.Sequential(*res)

    def forward(self, x):
        return self.res_layer(x) + self.shortcut_layer(x)


def ir_stage(cin, depth, units, se_reduction):
    return nn.Sequential(*[BottleneckIR(cin if u == 0 else depth, depth, 2 if u == 0 else 1, se_reduction)
                           for u in range(units)])


class IRStream(nn.Module):
    def __init__(self, widths, units, se_reduction):
        super().__init__()
        self.input_layer = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]),
                                         nn.PReLU(widths[0]))
        for s in range(1, 4):
            setattr(self, f"layer{s}", ir_stage(widths[s - 1], widths[s], units[s - 1], se_reduction))

    def forward(self, x):
        x = self.input_layer(x)
        levels = []
        for s in range(1, 4):
            x = getattr(self, f"layer{s}")(x)
            levels.append(x)
        return levels


class IRFamily:
    def __init__(self, widths, units, se_reduction=0):
        self.widths, self.units, self.se = widths, units, se_reduction
        self.levels = widths[1:4]
        self.out = widths[4]

    def stream(self, attention):
        assert not attention, "only DLAS-A is defined for the IR family"
        return IRStream(self.widths, self.units, self.se)

    def stage(self, s, cin):
        return ir_stage(cin, self.widths[s], self.units[s - 1], self.se)


# ---- DLAS topology (§1.2, §1.5) -----------------------------------------------------------------------
class AggBlock(nn.Module):
    def __init__(self, c, agg_layer, out, attention):
        super().__init__()
        self.conv1 = nn.Conv2d(3 * c, c, 1)
        self.relu = nn.ReLU()
        self.agg_layer = agg_layer
        if attention:
            self.ch_att = ChannelAttention(out, out // 4)
        self.attention = attention

    def forward(self, x, previous=None):
        x = self.relu(self.conv1(x))
        if previous is not None:
            x = x + previous
        x = self.agg_layer(x)
        return self.ch_att(x) if self.attention else x


class DLAS(nn.Module):
    def __init__(self, family, variant, classes=2):
        super().__init__()
        att = variant == "B"
        self.variant = variant
        self.rgb_backbone = family.stream(att)
        self.depth_backbone = family.stream(att)
        self.ir_backbone = family.stream(att)
        c1, c2, c3 = family.levels
        out = family.out
        self.layer4 = family.stage(4, 3 * c3)
        if att:
            self.ch_att4 = ChannelAttention(out, out // 4)
        self.agg_layer1 = AggBlock(c1, family.stage(2, c1), c2, att)
        self.agg_layer2 = AggBlock(c2, family.stage(3, c2), c3, att)
        self.agg_layer3 = AggBlock(c3, family.stage(4, c3), out, att)
        feature = out
        if variant == "C":
            self.main_bottleneck = nn.Conv2d(out, 128, 1)
            self.agg_bottleneck = nn.Conv2d(out, 128, 1)
            feature = 128
        self.classifier = nn.Linear(feature, classes)

    def features(self, rgb, depth, ir):
        r, d, i = self.rgb_backbone(rgb), self.depth_backbone(depth), self.ir_backbone(ir)
        main = self.layer4(torch.cat([r[2], d[2], i[2]], 1))
        if self.variant == "B":
            main = self.ch_att4(main)
        main = F.adaptive_avg_pool2d(main, 1)
        agg = self.agg_layer1(torch.cat([r[0], d[0], i[0]], 1))
        agg = self.agg_layer2(torch.cat([r[1], d[1], i[1]], 1), agg)
        agg = self.agg_layer3(torch.cat([r[2], d[2], i[2]], 1), agg)
        agg = F.adaptive_avg_pool2d(agg, 1)
        if self.variant == "C":
            main, agg = self.main_bottleneck(main), self.agg_bottleneck(agg)
        return (main + agg).flatten(1)

    def forward(self, rgb, depth, ir):
        return self.classifier(self.features(rgb, depth, ir))


# ---- CASIA-SURF baseline (models/baseline.h) ----------------------------------------------------------
class TorchvisionBasicBlock(nn.Module):
    """torchvision's BasicBlock: ReLU activations, the stride in conv1, ReLU after the add."""

    def __init__(self, cin, c, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.downsample = None
        if stride != 1 or cin != c:
            self.downsample = nn.Sequential(nn.Conv2d(cin, c, 1, stride, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


def resnet_layer(cin, c, blocks, stride):
    return nn.Sequential(*[TorchvisionBasicBlock(cin if b == 0 else c, c, stride if b == 0 else 1)
                           for b in range(blocks)])


class ResNet18Stream(nn.Module):
    """torchvision ResNet-18's stem and layer1-3 at base width w."""

    def __init__(self, w):
        super().__init__()
        self.conv1 = nn.Conv2d(3, w, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.layer1 = resnet_layer(w, w, 2, 1)
        self.layer2 = resnet_layer(w, 2 * w, 2, 2)
        self.layer3 = resnet_layer(2 * w, 4 * w, 2, 2)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        return self.layer3(self.layer2(self.layer1(x)))


class CasiaSurfBaseline(nn.Module):
    """Three ResNet-18 streams, SE fusion of each, cat, shared layer4 (12w -> 8w, s2), GAP, classifier."""

    def __init__(self, w, se_reduction, classes=2):
        super().__init__()
        for m in ("rgb", "depth", "ir"):
            setattr(self, f"{m}_backbone", ResNet18Stream(w))
        for m in ("rgb", "depth", "ir"):
            setattr(self, f"{m}_se", SEModule(4 * w, se_reduction))
        self.layer4 = resnet_layer(12 * w, 8 * w, 2, 2)
        self.classifier = nn.Linear(8 * w, classes)

    def forward(self, rgb, depth, ir):
        fused = torch.cat([self.rgb_se(self.rgb_backbone(rgb)), self.depth_se(self.depth_backbone(depth)),
                           self.ir_se(self.ir_backbone(ir))], 1)
        return self.classifier(F.adaptive_avg_pool2d(self.layer4(fused), 1).flatten(1))


# ---- reference state ----------------------------------------------------------------------------------
def perturb(net):
    """Moves BN and PReLU state off its defaults (in f32, before the switch to f64)."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.2)
                m.running_mean.normal_(0.0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
            elif isinstance(m, nn.PReLU):
                m.weight.uniform_(0.0, 0.5)


def f32(t):
    return t if t.dtype == torch.int64 else t.float()


def run_case(ref, name, params, net, inputs, labels):
    perturb(net)
    net.double()  # weights were made in f32: f32-representable
    init = {k: v.clone() for k, v in net.state_dict().items()}
    rgb, depth, ir = inputs
    opt = torch.optim.Adam(net.parameters(), lr=LR, betas=BETAS, eps=EPS)
    net.train()
    losses, tensors = [], {}
    for step in range(STEPS):
        opt.zero_grad()
        logits = net(rgb, depth, ir)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        if step == 0:
            tensors["logits0"] = logits.float()
            tensors.update({f"grad0.{k}": p.grad.float() for k, p in net.named_parameters()})
            tensors.update({f"stats0.{k}": b.float() for k, b in net.named_buffers() if "running" in k})
        opt.step()
        losses.append(loss.item())
    net.eval()
    with torch.no_grad():
        tensors["eval_logits"] = net(rgb, depth, ir).float()
    tensors["losses"] = torch.tensor(losses, dtype=torch.float64)
    tensors.update({f"init.{k}": f32(v) for k, v in init.items()})
    n_params = sum(p.numel() for p in net.parameters())
    params = dict(params, steps=STEPS, lr=LR, beta1=BETAS[0], beta2=BETAS[1], eps=EPS, batch=BATCH, params=n_params)
    ref.case(name, params, **tensors)
    print(f"{name}: {n_params} params, losses {['%.6f' % v for v in losses]}")


def make_inputs(ref, family, size, seed):
    g = torch.Generator().manual_seed(seed)
    rgb, depth, ir = (torch.randn(BATCH, 3, size, size, generator=g) for _ in range(3))
    labels = torch.tensor([1, 0])
    ref.case(f"{family}_inputs", dict(size=size, batch=BATCH), rgb=rgb, depth=depth, ir=ir, labels=labels)
    return (rgb.double(), depth.double(), ir.double()), labels


def check_full_counts():
    """The full-size nets have the parameter counts computed on the original classes (REFERENCE.md §1.7)."""
    def count(net):
        return sum(p.numel() for k, p in net.named_parameters() if not k.startswith("classifier"))
    rn = ResNetCaffeFamily([32, 64, 128, 256, 512], [1, 2, 5, 3])
    for variant, expected in (("A", 61059520), ("B", 61495088), ("C", 61190848)):
        assert count(DLAS(rn, variant)) == expected, variant
    for se, expected in ((0, 99335552), (16, 100028288)):
        assert count(DLAS(IRFamily([64, 64, 128, 256, 512], [3, 4, 14, 3], se), "A")) == expected, se
    print("full-size parameter counts match REFERENCE.md 1.7")


def main():
    torch.set_num_threads(2)
    if "--check-counts" in sys.argv:
        check_full_counts()
    # Widths are cut below the full nets' so that the files stay small (every parameter is stored twice,
    # init and grad0, in f32); the block/unit counts keep every index pattern (a stage with one and with
    # several blocks). ResNetCaffe: 64x64 -> L1 30, L2 14, L3 6, layer4
    # 2x2 (the smallest input that leaves layer4 more than 1x1 for BN).
    rn_widths, rn_blocks = [4, 8, 8, 8, 16], [1, 1, 2, 1]
    ref = Reference("models_resnet34")
    inputs, labels = make_inputs(ref, "resnet34", 64, 1)
    for seed, variant in enumerate("ABC"):
        torch.manual_seed(10 + seed)
        net = DLAS(ResNetCaffeFamily(rn_widths, rn_blocks), variant)
        run_case(ref, f"resnet34_dlas_{variant.lower()}", dict(widths=rn_widths, blocks=rn_blocks, variant=variant,
                                                               inputs="resnet34_inputs"), net, inputs, labels)
    ref.save()

    # IR: 32x32 -> L1 16, L2 8, L3 4, layer4 2x2. Shortcuts: MaxPool(1, 2) in layer1/2 unit 0 and
    # agg_layer1 unit 0, MaxPool(1, 1) in later units, conv + BN in layer3, layer4, agg_layer2/3 unit 0.
    ir_widths, ir_units = [8, 8, 8, 12, 16], [1, 2, 2, 1]
    ref = Reference("models_ir50")
    inputs, labels = make_inputs(ref, "ir50", 32, 2)
    for name, se in (("ir50_dlas_a", 0), ("ir_se50_dlas_a", 4)):
        torch.manual_seed(20 + se)
        net = DLAS(IRFamily(ir_widths, ir_units, se), "A")
        run_case(ref, name, dict(widths=ir_widths, units=ir_units, se_reduction=se, variant="A", inputs="ir50_inputs"),
                 net, inputs, labels)
    ref.save()

    # CASIA-SURF baseline, width 3 (full: 64), SE reduction 3
    # on 12 channels: 64x64 -> stem 16, layer2 8, layer3 4, layer4 2x2. Every block kind: identity
    # shortcut, downsample conv + BN (block 0 of layer2-4).
    width, se = 3, 3
    ref = Reference("models_baseline")
    inputs, labels = make_inputs(ref, "baseline", 64, 3)
    torch.manual_seed(30)
    run_case(ref, "casia_surf_baseline", dict(width=width, se_reduction=se, inputs="baseline_inputs"),
             CasiaSurfBaseline(width, se), inputs, labels)
    ref.save()


if __name__ == "__main__":
    main()
