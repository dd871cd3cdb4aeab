#!/usr/bin/env python3
"""Writes the golden .npy fixtures for test/codecs/npy.test.ts.

Run from the repository root with NumPy 2.x installed:

    python3 scripts/make-npy-fixtures.py

It (re)writes test/fixtures/npy/*.npy with NumPy's own writer and test/fixtures/npy/manifest.json
describing each file. The tests read the committed files; NumPy is not needed to run them.

Manifest entries under "arrays" give the toolkit dtype name, the shape and "data": the elements
in row-major (C) order as the toolkit stores them: float16 as its raw half bits, int64/uint64 as
decimal strings, bool as 0/1, non-finite floats as "nan", "inf" or "-inf". "sameBytesOnEncode"
says whether encoding the decoded array must give the file byte for byte: true for what
numpy.save writes by default (format 1.0, C order, little-endian or one-byte types). Entries under
"rejected" are files the decoder must refuse, with a fragment of the expected error message.
"""

import json
import math
import pathlib

import numpy as np

OUT = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures" / "npy"

DTYPE_NAMES = {
    ("f", 2): "float16",
    ("f", 4): "float32",
    ("f", 8): "float64",
    ("i", 1): "int8",
    ("i", 2): "int16",
    ("i", 4): "int32",
    ("i", 8): "int64",
    ("u", 1): "uint8",
    ("u", 2): "uint16",
    ("u", 4): "uint32",
    ("u", 8): "uint64",
    ("b", 1): "bool",
}


def stored_elements(array):
    """The elements in C order, as the toolkit's NDArray storage holds them (see the docstring)."""
    row_major = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).ravel()
    kind = array.dtype.kind
    if kind == "f" and array.dtype.itemsize == 2:
        return row_major.view("<u2").tolist()
    if kind == "b":
        return [int(value) for value in row_major.tolist()]
    if kind in "iu" and array.dtype.itemsize == 8:
        return [str(value) for value in row_major.tolist()]
    if kind == "f":
        return [finite_or_name(value) for value in row_major.tolist()]
    return row_major.tolist()


def finite_or_name(value):
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def write(name, array, version=None):
    path = OUT / name
    with open(path, "wb") as file:
        if version is None:
            np.save(file, array)
        else:
            np.lib.format.write_array(file, array, version=version)
    return path


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.npy"):
        old.unlink()

    arrays = [
        # (file name, array, version, sameBytesOnEncode)
        ("float32-2x3.npy", np.array([[0.1, -1.5, 3.4028235e38], [1e-45, 0.0, 65504.0]], dtype="<f4"), None, True),
        ("float64-scalar.npy", np.array(np.pi, dtype="<f8"), None, True),
        ("float64-special.npy", np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324, 1.7976931348623157e308], dtype="<f8"), None, True),
        ("float16-vector.npy", np.array([0.1, -2.0, 65504.0, 6e-8, np.inf, 1.0], dtype="<f2"), None, True),
        ("int8-vector.npy", np.array([-128, -1, 0, 127], dtype="|i1"), None, True),
        ("int16-vector.npy", np.array([-32768, 32767, 1], dtype="<i2"), None, True),
        ("int32-2x2.npy", np.array([[-(2**31), 2**31 - 1], [0, 7]], dtype="<i4"), None, True),
        ("int64-vector.npy", np.array([-(2**63), 2**63 - 1, 2**53 + 1, -5], dtype="<i8"), None, True),
        ("uint8-2x3x4.npy", np.arange(24, dtype="|u1").reshape(2, 3, 4), None, True),
        ("uint16-vector.npy", np.array([0, 65535, 256], dtype="<u2"), None, True),
        ("uint32-vector.npy", np.array([0, 2**32 - 1], dtype="<u4"), None, True),
        ("uint64-vector.npy", np.array([0, 2**64 - 1, 2**53 + 1], dtype="<u8"), None, True),
        ("bool-2x2.npy", np.array([[True, False], [False, True]]), None, True),
        ("int64-empty.npy", np.zeros((0,), dtype="<i8"), None, True),
        ("float32-2x0x3.npy", np.zeros((2, 0, 3), dtype="<f4"), None, True),
        ("float32-long-first-dim.npy", np.arange(1000, dtype="<f4"), None, True),
        # A header that ends exactly on a 64-byte boundary, so NumPy pads a full 64 more bytes.
        ("uint8-full-padding.npy", np.arange(100, dtype="|u1").reshape((1,) * 13 + (100,)), None, True),
        ("float64-fortran-3x4.npy", np.asfortranarray(np.arange(12, dtype="<f8").reshape(3, 4)), None, False),
        ("int32-fortran-2x3x4.npy", np.asfortranarray(np.arange(24, dtype="<i4").reshape(2, 3, 4)), None, False),
        ("float32-big-endian-2x2.npy", np.array([[1.5, -2.25], [1e10, 0.1]], dtype=">f4"), None, False),
        ("int64-big-endian-vector.npy", np.array([1, -2, 2**62], dtype=">i8"), None, False),
        ("float16-big-endian-vector.npy", np.array([0.5, -65504.0], dtype=">f2"), None, False),
        ("float64-big-endian-scalar.npy", np.array(-1.25, dtype=">f8"), None, False),
        ("float32-version-2.npy", np.array([1.0, 2.0, 3.0], dtype="<f4"), (2, 0), False),
        ("int16-version-3.npy", np.array([[1, -2], [3, -4]], dtype="<i2"), (3, 0), False),
    ]
    rejected = [
        ("object.npy", np.array([1, "a", None], dtype=object), "object arrays are not supported"),
        ("unicode.npy", np.array(["abc", "de"]), "dtype \"<U3\" is not supported"),
        ("structured.npy", np.zeros(2, dtype=[("x", "<f4"), ("y", "<i4")]), "structured dtypes"),
        ("complex64.npy", np.array([1 + 2j], dtype="<c8"), "dtype \"<c8\" is not supported"),
    ]

    manifest = {"numpy": np.__version__, "arrays": [], "rejected": []}
    for name, array, version, same_bytes in arrays:
        write(name, array, version)
        manifest["arrays"].append({
            "file": name,
            "dtype": DTYPE_NAMES[(array.dtype.kind, array.dtype.itemsize)],
            "shape": list(array.shape),
            "data": stored_elements(array),
            "sameBytesOnEncode": same_bytes,
        })
    for name, array, message in rejected:
        with open(OUT / name, "wb") as file:
            np.save(file, array, allow_pickle=True)
        manifest["rejected"].append({"file": name, "message": message})

    # One entry per line: readable diffs without a line per element.
    lines = ",\n".join(f"    {json.dumps(entry)}" for entry in manifest["arrays"])
    rejected_lines = ",\n".join(f"    {json.dumps(entry)}" for entry in manifest["rejected"])
    text = (
        f'{{\n  "numpy": {json.dumps(manifest["numpy"])},\n'
        f'  "arrays": [\n{lines}\n  ],\n'
        f'  "rejected": [\n{rejected_lines}\n  ]\n}}\n'
    )
    json.loads(text)
    (OUT / "manifest.json").write_text(text)
    print(f"wrote {len(arrays) + len(rejected)} fixtures to {OUT}")


if __name__ == "__main__":
    main()
