#!/usr/bin/env python3
"""Write and check safetensors files by hand, following the format spec.

The official `safetensors` Python package is not installed here (and cannot
be), so this script implements what it does, with numpy only:

  * 8-byte little-endian u64 N, then N bytes of UTF-8 JSON header, then the
    data buffer;
  * tensors sorted by descending dtype alignment (the reference Dtype enum
    order), then by name; data packed in that order, offsets relative to the
    buffer start;
  * header JSON compact (separators (',', ':'), non-ASCII kept as UTF-8, the
    way serde_json writes it), "__metadata__" first, padded with spaces to a
    multiple of 8 bytes.

One difference from the reference: it writes metadata keys sorted (the Rust
code writes them in hash-map order, which is not reproducible).

Usage:
  make_safetensors.py write [DIR]   regenerate the fixtures (default: this
                                    script's directory)
  make_safetensors.py check FILE    read FILE, validate it as the reference
                                    reader does, print its content as JSON
                                    (float32 values as bit patterns)

The Go tests in selfsup/checkpoint read the fixtures (checking the values
built here) and write the same tensors, expecting identical bytes; they also
run `check` on a Go-written file when numpy is available.
"""

import json
import os
import struct
import sys

import numpy as np

# Reference Dtype enum order (increasing alignment); writers sort descending.
DTYPE_RANK = [
    "BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3",
    "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16",
    "I32", "U32", "F32", "C64", "F64", "I64", "U64",
]
ITEMSIZE = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}
NUMPY_DTYPE = {"F16": "<f2", "BF16": "<u2", "F32": "<f4", "F64": "<f8"}


def to_bf16_bits(x):
    """Round float32 values to bfloat16 (nearest, ties to even) and return the
    16-bit patterns; NaN stays a quiet NaN."""
    bits = np.asarray(x, dtype="<f4").view("<u4").astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    rounded[nan] = (bits[nan] >> 16) | 0x40
    out = rounded.astype("<u2")
    try:  # cross-check with torch's own conversion when it is available
        import torch
        ref = torch.tensor(np.asarray(x, dtype=np.float32)).to(torch.bfloat16)
        ref_bits = ref.view(torch.int16).numpy().view("<u2")
        assert np.array_equal(ref_bits[~nan], out[~nan]), (ref_bits, out)
    except ImportError:
        pass
    return out


def bf16_bits_to_f32(bits):
    return (np.asarray(bits, dtype="<u2").astype("<u4") << 16).view("<f4")


def serialize(tensors, metadata=None):
    """tensors: dict name -> (dtype, shape, little-endian bytes)."""
    order = sorted(tensors, key=lambda n: (-DTYPE_RANK.index(tensors[n][0]), n.encode("utf-8")))
    header = {}
    if metadata:
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    offset = 0
    for name in order:
        dtype, shape, data = tensors[name]
        n = int(np.prod(shape, dtype=np.int64)) * ITEMSIZE[dtype]
        assert n == len(data), (name, n, len(data))
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    hdr = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hdr += b" " * (-len(hdr) % 8)
    return struct.pack("<Q", len(hdr)) + hdr + b"".join(tensors[n][2] for n in order)


def f32(name_values_shape):
    values, shape = name_values_shape
    a = np.asarray(values, dtype="<f4").reshape(shape)
    return ("F32", list(shape), a.tobytes())


def f32_fixture():
    """Float32 tensors, with every shape corner (0-d, empty) and special
    values; the Go test builds the same values from the same formulas."""
    special = np.array([0.0, np.inf, -np.inf, 0.0, 0.0, 0.0, 1e-38], dtype="<f4")
    special[0] = -0.0
    bits = special.view("<u4")
    bits[3] = 0x7FC00000  # quiet NaN
    bits[4] = 0x00000001  # smallest subnormal
    bits[5] = 0x7F7FFFFF  # largest finite
    tensors = {
        "conv.weight": f32(([(i - 11.5) * 0.125 for i in range(24)], (2, 3, 2, 2))),
        "bn.running_var": f32(([(i + 1) / 3 for i in range(3)], (3,))),
        "scalar": f32(([np.float32(np.pi)], ())),
        "empty": f32(([], (2, 0))),
        "special": ("F32", [7], special.tobytes()),
        'odd "name"\\\t\x01\u00fcn\u00ef': f32(([1.5, -2.0], (1, 2))),
    }
    meta = {"source": "make_safetensors.py", "format": "pt"}
    return serialize(tensors, meta)


def mixed_fixture():
    """F64, BF16 and F16 tensors (which selfsup converts to float32 when it
    reads them) next to F32 tensors holding the expected conversions."""
    h = np.array([1.0, -2.5, 65504.0, 6e-8, np.inf, -0.0], dtype="<f2")
    b_src = np.array([1.0, 3.14159, -1e30, 1e-40, -0.0], dtype="<f4")
    b = to_bf16_bits(b_src)
    d = np.array([0.1, 1e300, -1e-50, 2.0 / 3.0], dtype="<f8")
    with np.errstate(over="ignore"):
        d32 = d.astype("<f4")
    tensors = {
        "h": ("F16", [2, 3], h.tobytes()),
        "h.expect": ("F32", [2, 3], h.astype("<f4").tobytes()),
        "b": ("BF16", [5], b.tobytes()),
        "b.expect": ("F32", [5], bf16_bits_to_f32(b).tobytes()),
        "d": ("F64", [4], d.tobytes()),
        "d.expect": ("F32", [4], d32.tobytes()),
        "d.empty": ("F64", [0], b""),
    }
    return serialize(tensors)


def check(path):
    """Read a file as the reference reader does and describe it."""
    raw = open(path, "rb").read()
    assert len(raw) >= 8, "shorter than 8 bytes"
    (n,) = struct.unpack("<Q", raw[:8])
    assert n <= 100_000_000 and 8 + n <= len(raw), "bad header length %d" % n
    assert n % 8 == 0, "header length %d is not a multiple of 8" % n
    text = raw[8:8 + n].decode("utf-8")
    pairs = json.loads(text, object_pairs_hook=lambda kv: kv)
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), "duplicate names"
    header = dict(pairs)
    metadata = dict(header.pop("__metadata__", None) or []) or None
    entries = sorted(((k, dict(v)) for k, v in header.items()), key=lambda kv: kv[1]["data_offsets"])
    buf = raw[8 + n:]
    pos = 0
    out = {}
    for name, info in entries:
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        assert begin == pos, "%s: begins at %d, expected %d" % (name, begin, pos)
        size = int(np.prod(shape, dtype=np.int64)) * ITEMSIZE[dtype]
        assert end - begin == size, "%s: %d bytes for shape %s" % (name, end - begin, shape)
        a = np.frombuffer(buf[begin:end], dtype=NUMPY_DTYPE[dtype])
        if dtype == "BF16":
            a = bf16_bits_to_f32(a)
        with np.errstate(over="ignore"):
            a = a.astype("<f4")
        out[name] = {"dtype": dtype, "shape": shape, "bits": [int(x) for x in a.view("<u4")]}
        pos = end
    assert pos == len(buf), "%d trailing bytes" % (len(buf) - pos)
    # The writer's layout rules: the order above must be the sorted order.
    want = sorted(out, key=lambda k: (-DTYPE_RANK.index(out[k]["dtype"]), k.encode("utf-8")))
    got = [name for name, _ in entries]
    assert got == want, "tensor order %s, want %s" % (got, want)
    assert text.rstrip(" ").endswith("}"), "header padded with something other than spaces"
    json.dump({"metadata": metadata, "order": got, "tensors": out}, sys.stdout, ensure_ascii=True)
    print()


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "check" and len(sys.argv) == 3:
        check(sys.argv[2])
        return
    if len(sys.argv) >= 2 and sys.argv[1] == "write":
        outdir = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__))
        for name, data in [("f32.safetensors", f32_fixture()), ("mixed.safetensors", mixed_fixture())]:
            with open(os.path.join(outdir, name), "wb") as f:
                f.write(data)
            print("wrote %s (%d bytes)" % (name, len(data)))
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
