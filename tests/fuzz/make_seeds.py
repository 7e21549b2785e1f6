#!/usr/bin/env python3
"""Writes the safetensors seed corpus (seeds/safetensors/, a few hundred bytes each; committed).

Standard library only. The files follow what nn::io::save_safetensors writes (header padded with spaces
to 8 bytes) plus a few near misses, so the fuzzer starts inside the parser's checks, not at the JSON.
Run: python3 tests/fuzz/make_seeds.py
"""
import json
import pathlib
import struct

OUT = pathlib.Path(__file__).resolve().parent / "seeds" / "safetensors"
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

if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for name, blob in SEEDS.items():
        (OUT / name).write_bytes(blob)
    print(f"{len(SEEDS)} seeds in {OUT}")
