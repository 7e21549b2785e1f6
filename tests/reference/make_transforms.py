"""Reference outputs of the image transforms (REFERENCE.md §4.4) with Pillow, for tests/test_data_transforms.cpp.

torchvision is not in Debian, so torchvision 0.2.1's functional formulas are written out here on top of PIL
(they are thin: center_crop offsets, to_tensor = u8 / 255 as float32, normalize = (x - m) / s in float32,
adjust_* = ImageEnhance, adjust_hue via HSV with a wrapping uint8 add). The Pillow version (Debian's 9.4) is
recorded in the metadata; the reference ran Pillow 5.4.1, whose rotate/resize numerics are not verified here
(REFERENCE.md §9, item 8).
Run: /usr/bin/python3 tests/reference/make_transforms.py
"""
import math

import numpy as np
import PIL
import torch
from PIL import Image, ImageEnhance

from reftools import Reference

CIFAR = ([0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010])
HALF = ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])


def make_image(h, w, seed):
    """Smooth gradients and blobs plus noise, u8 RGB: exercises both flat and high-frequency regions."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = []
    for c in range(3):
        fx, fy, ph = rng.uniform(0.02, 0.15), rng.uniform(0.02, 0.15), rng.uniform(0, 6)
        v = 128 + 90 * np.sin(fx * x + ph) * np.cos(fy * y) + 30 * (x / w - y / h)
        chans.append(v + rng.normal(0, 18, size=(h, w)))
    return np.clip(np.stack(chans, -1), 0, 255).round().astype(np.uint8)


def u8(img):
    return torch.from_numpy(np.asarray(img, dtype=np.uint8).copy())


def center_crop(img, size):
    w, h = img.size
    i, j = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return img.crop((j, i, j + size, i + size))


def five_crop(img, size, index):
    w, h = img.size
    if index == 0:
        return center_crop(img, size)
    j = 0 if index in (1, 3) else w - size
    i = 0 if index in (1, 2) else h - size
    return img.crop((j, i, j + size, i + size))


def to_tensor_normalize(img, norm):
    t = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).float().div(255)
    mean, std = norm
    for c in range(3):
        t[c].sub_(mean[c]).div_(std[c])
    return t


def adjust_hue(img, hue_factor):
    h, s, v = img.convert("HSV").split()
    np_h = np.array(h, dtype=np.uint8)
    with np.errstate(over="ignore"):
        np_h += np.uint8(np.int64(math.trunc(hue_factor * 255)) & 255)  # np.uint8(negative float) wraps
    return Image.merge("HSV", (Image.fromarray(np_h, "L"), s, v)).convert("RGB")


def main():
    ref = Reference("transforms")
    # (H, W): downscale both ways, mixed ratios, upscale; the last two are small, for the augmentation ops.
    sizes = [(97, 131), (112, 126), (60, 50), (37, 45), (29, 23), (21, 21)]
    pils = [Image.fromarray(make_image(h, w, 10 + k), "RGB") for k, (h, w) in enumerate(sizes)]
    ref.metadata["__pillow__"] = PIL.__version__
    for k, im in enumerate(pils):
        ref.case(f"image{k}", {"index": k}, x=u8(im))

    # Pillow's antialiased bilinear resize (reducing and enlarging, each axis on its own).
    for k, im in enumerate(pils[:3]):
        for (h, w) in [(64, 80), (131, 37), (33, 45)]:
            ref.case(f"resize_{k}_{h}x{w}", {"image": k, "height": h, "width": w},
                     y=u8(im.resize((w, h), Image.BILINEAR)))
    for k in (3, 4):
        ref.case(f"hflip_{k}", {"image": k}, y=u8(pils[k].transpose(Image.FLIP_LEFT_RIGHT)))
        for norm_name, norm in [("cifar", CIFAR), ("half", HALF)]:
            ref.case(f"to_tensor_{k}_{norm_name}", {"image": k, "norm": norm_name},
                     y=to_tensor_normalize(pils[k], norm))

    # The u8 test views before ToTensor: Resize(125) -> rotate(a) -> hflip -> crop 112 (float parity is the
    # to_tensor cases above, so the 112 x 112 views stay u8 to keep this file small).
    views = {0: [(c, False, 0.0) for c in range(5)] + [(0, True, 0.0), (0, False, -10.0), (0, True, 10.0)],
             1: [(0, False, 0.0), (0, True, 0.0)], 2: [(0, False, 0.0), (0, True, 0.0)]}
    for k, vs in views.items():
        r = pils[k].resize((125, 125), Image.BILINEAR)
        for crop, flip, angle in vs:
            v = r.rotate(angle, Image.BILINEAR) if angle else r
            v = v.transpose(Image.FLIP_LEFT_RIGHT) if flip else v
            name = f"rotate{angle:g}" if angle else f"crop{crop}"
            ref.case(f"view_{k}_{name}{'_hflip' if flip else ''}",
                     {"image": k, "crop": crop, "hflip": flip, "rotate": angle}, y=u8(five_crop(v, 112, crop)))

    # Augmentation ops at fixed parameters (train/data/augment.h draws them; here they are given).
    for k in (3, 4):
        im = pils[k]
        for angle in (0.0, 17.3, -45.0, 33.71, 90.0, 180.0, -90.0, 270.5):
            ref.case(f"rotate_{k}_{angle:g}", {"image": k, "angle": angle}, y=u8(im.rotate(angle, Image.BILINEAR)))
        w, h = im.size
        for (i, j, ch, cw) in [(0, 0, h, w), (3, 5, h - 10, w - 7), (h // 3, w // 4, 9, 13)]:
            out = im.crop((j, i, j + cw, i + ch)).resize((40, 40), Image.BILINEAR)
            ref.case(f"resized_crop_{k}_{i}_{j}_{ch}_{cw}", {"image": k, "top": i, "left": j, "height": ch,
                                                             "width": cw, "size": 40}, y=u8(out))
        for f in (0.0, 0.37, 0.5, 1.0, 1.42, 1.5):
            ref.case(f"brightness_{k}_{f:g}", {"image": k, "factor": f},
                     y=u8(ImageEnhance.Brightness(im).enhance(f)))
            ref.case(f"contrast_{k}_{f:g}", {"image": k, "factor": f}, y=u8(ImageEnhance.Contrast(im).enhance(f)))
            ref.case(f"saturation_{k}_{f:g}", {"image": k, "factor": f}, y=u8(ImageEnhance.Color(im).enhance(f)))
        for f in (-0.25, -0.113, 0.0, 0.05, 0.125, 0.25):
            ref.case(f"hue_{k}_{f:g}", {"image": k, "factor": f}, y=u8(adjust_hue(im, f)))
        ref.case(f"grayscale_{k}", {"image": k}, y=u8(im.convert("L").convert("RGB")))
    # A square image: rotate takes Pillow's exact transposes for quarter turns.
    for angle in (90.0, -90.0, 270.0, 180.0, 45.0, 450.0):
        ref.case(f"rotate_5_{angle:g}", {"image": 5, "angle": angle}, y=u8(pils[5].rotate(angle, Image.BILINEAR)))
    ref.save()


if __name__ == "__main__":
    main()
