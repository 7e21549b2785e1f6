"""Shared helpers for the reference generators (tests/reference/make_*.py).

Writes safetensors without the `safetensors` package (not in Debian): the format is an 8-byte
little-endian header length, a JSON header and the raw little-endian tensor bytes. Each case is one
metadata entry (name -> JSON of its parameters) and tensors named "<case>.<role>".
Run generators with Debian's interpreter: /usr/bin/python3 tests/reference/make_X.py
"""
import json
import os
import struct

import torch

_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
           torch.int64: "I64", torch.uint8: "U8"}


class Reference:
    def __init__(self, family):
        self.family = family
        self.tensors = {}
        self.metadata = {}

    def case(self, name, params, **tensors):
        assert name not in self.metadata, name
        self.metadata[name] = json.dumps(params, sort_keys=True)
        for role, t in tensors.items():
            if t is not None:
                self.tensors[f"{name}.{role}"] = t.detach().contiguous().cpu()

    def save(self, path=None):
        """Writes <this directory>/<family>.safetensors, or path when given."""
        path = path or os.path.join(os.path.dirname(os.path.abspath(__file__)), self.family + ".safetensors")
        header, blobs, offset = {"__metadata__": self.metadata}, [], 0
        for name, t in self.tensors.items():
            data = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
            header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                            "data_offsets": [offset, offset + len(data)]}
            blobs.append(data)
            offset += len(data)
        js = json.dumps(header, separators=(",", ":")).encode()
        js += b" " * ((8 - len(js) % 8) % 8)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(js)))
            f.write(js)
            for b in blobs:
                f.write(b)
        os.replace(tmp, path)
        print(f"wrote {path}: {len(self.metadata)} cases, {offset} bytes of data")
