#!/usr/bin/env python3
"""Writes the seed corpora (seeds/<target>/, at most a few KB each; committed).

Standard library only. safetensors: files as nn::io::save_safetensors writes them (header padded with
spaces to 8 bytes) plus a few near misses, so the fuzzer starts inside the parser's checks, not at the JSON.
torch_checkpoint / zip / pickle: the smallest real checkpoints of tests/reference/checkpoints (written by
torch itself), their zip archives and the pickles inside them. tfjs: manifest, NUL, shard bytes
(fuzz_tfjs.cpp's input layout) for float32, uint8 / uint16 quantized and two-shard groups.
Run: python3 tests/fuzz/make_seeds.py
"""
import json
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "seeds" / "safetensors"
CHECKPOINTS = HERE.parent / "reference" / "checkpoints"
SIZES = {"F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I64": 8, "U8": 1}


def safetensors(tensors, metadata=None, pad=True):
    """tensors: [(name, dtype, shape)], laid out back to back; data bytes count up from 0."""
    header, offset = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape in tensors:
        n = SIZES[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    return raw(json.dumps(header, separators=(",", ":")), bytes(i % 251 for i in range(offset)), pad)


def raw(header, data=b"", pad=True):
    h = header.encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


SEEDS = {
    "f32_matrix": safetensors([("w", "F32", [2, 3])], {"format": "pt"}),
    "all_dtypes": safetensors([(d.lower(), d, [2]) for d in SIZES] + [("scalar", "F32", []), ("empty", "F32", [0, 3])]),
    "state_dict": safetensors([("conv.weight", "F32", [2, 1, 3, 3]), ("bn.running_mean", "F32", [2]),
                               ("bn.num_batches_tracked", "I64", []), ("fc.bias", "F16", [2])],
                              {"step": "3", "config": "{\"k\": 3}"}),
    "empty_header": raw("{}"),
    "unpadded": safetensors([("x", "U8", [5])], pad=False),
    "overlap": raw('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                   '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', bytes(12)),
    "empty_inside": raw('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                        '"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}', bytes(8)),
    "truncated": safetensors([("w", "F64", [4])])[:-5],
}



def torch_seeds():
    """torch_checkpoint, zip and pickle seeds from the committed real checkpoints."""
    import zipfile
    ckpt, zips, pickles = {}, {}, {}
    for name in ("views.pth", "views.legacy.pth", "dtypes.pth", "dtypes.legacy.pth", "convbn.legacy.pth",
                 "evil_os_system.legacy.pth"):
        blob = (CHECKPOINTS / name).read_bytes()
        ckpt[name] = blob
        if blob[:2] == b"PK":
            zips[name] = blob
            with zipfile.ZipFile(CHECKPOINTS / name) as z:
                for entry in z.namelist():
                    if entry.endswith(".pkl"):
                        pickles[name + "." + entry.replace("/", "_")] = z.read(entry)
        else:
            pickles[name] = blob  # a legacy file starts with its magic-number pickle
    return {"torch_checkpoint": ckpt, "zip": zips, "pickle": pickles}


def tfjs_seeds():
    def manifest(groups):
        return json.dumps(groups).encode() + b"\0"
    f32 = {"name": "w", "shape": [2, 3], "dtype": "float32"}
    q8 = {"name": "q", "shape": [4], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1}}
    q16 = {"name": "h", "shape": [2], "dtype": "float32", "quantization": {"dtype": "uint16", "scale": 0.01, "min": 0}}
    i32 = {"name": "n", "shape": [1], "dtype": "int32"}
    return {"tfjs": {
        "float32": manifest([{"paths": ["a.bin"], "weights": [f32]}]) + struct.pack("<6f", *range(6)),
        "quantized": manifest([{"paths": ["a.bin"], "weights": [q8, q16, i32]}]) + bytes(range(4)) + bytes(4) + bytes(4),
        "two_shards": manifest([{"paths": ["a.bin", "b.bin"], "weights": [q8]}]) + bytes(range(2)),
        "bad_path": manifest([{"paths": ["../x.bin"], "weights": [q8]}]) + bytes(4),
    }}


if __name__ == "__main__":
    corpora = {"safetensors": SEEDS, **torch_seeds(), **tfjs_seeds()}
    for target, seeds in corpora.items():
        out = HERE / "seeds" / target
        out.mkdir(parents=True, exist_ok=True)
        for name, blob in seeds.items():
            (out / name).write_bytes(blob)
        print(f"{len(seeds)} seeds in {out}")
