"""What crosses between the grading process and the learner's process, and how.

The grader sends requests ("call ``kl_divergence`` with these tensors"); the learner's
process answers with plain data only: tensors of class ``torch.Tensor``, numbers, bools,
strings, None, and lists, tuples and dicts of these. Both directions are frames
(4-byte length, 1-byte kind, payload) on pipes. Answers are ``torch.save`` bytes of a
JSON text (the structure) and one byte tensor (every tensor's bytes), which the grader
reads with ``torch.load(..., weights_only=True)``: it builds no object but a string and
a tensor, and the structure is rebuilt from the JSON with every part checked. Whatever else the
learner's code returns travels as a description (``Opaque``): its type, and its value
when it is a single number. Requests, the grader's own data, use a lighter format
(``pack``: a JSON header and the tensors' bytes), several times faster to write and read
than ``torch.save``.
"""

from __future__ import annotations

import io
import json
import math
import os
import select
import struct
import time
import warnings
from typing import Any

import torch

HELLO, REPLY, EVENT, REQUEST, FAILED = b"H", b"R", b"E", b"Q", b"F"
MAX_FRAME = 256 * 2**20  # bytes one reply may have; more means the learner's process is broken
MAX_ITEMS = 10_000  # list/dict items kept per container
MAX_DEPTH = 8  # nesting kept
MAX_TEXT = 10_000  # characters kept per string

# Markers: dicts standing for things that are not plain data.
MODEL = "__vaelab_model__"  # {MODEL: spec, "state": state_dict, "key": k, "dtype": "float32"}
GENERATOR = "__vaelab_generator__"  # {GENERATOR: state}: a torch.Generator in that state
LEAF = "__vaelab_leaf__"  # {LEAF: tensor, "name": name}: an input that requires grad
PREVIOUS = "__vaelab_previous__"  # {PREVIOUS: True}: the previous step's output
ROWS = "__vaelab_rows__"  # {ROWS: row, "n": n}: a tensor of n copies of row (sent small)
OPAQUE = "__vaelab_opaque__"  # {OPAQUE: [module, type name, number or None]}


class WireError(Exception):
    """Bytes from the learner's process that are not a well-formed frame of plain data."""


class FrameTooLarge(WireError):
    """A frame longer than ``MAX_FRAME``."""


class Opaque:
    """A value that is not plain data (a numpy array, a custom object), described in words."""

    def __init__(self, module: str, name: str, number: float | None = None):
        self.module, self.name, self.number = module, name, number

    def __repr__(self) -> str:
        return f"<{self.module}.{self.name}>"


# ---------------------------------------------------------------- frames


def frame(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload) + 1) + kind + payload


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def read_exactly(fd: int, size: int, deadline: float | None) -> bytes:
    """``size`` bytes from ``fd``; TimeoutError past ``deadline``, EOFError when it closes."""
    chunks, left = [], size
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(left, 2**20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, deadline: float | None = None) -> tuple[bytes, bytes]:
    """(kind, payload) of the next frame on ``fd``."""
    (size,) = struct.unpack(">I", read_exactly(fd, 4, deadline))
    if size > MAX_FRAME:
        raise FrameTooLarge(f"{size / 2**20:.0f} MiB")
    if size < 1:
        raise WireError("an empty frame")
    data = read_exactly(fd, size, deadline)
    return data[:1], data[1:]


def _tree(value: Any, tensors: list) -> Any:
    """``value`` as JSON-ready data: each tensor replaced by {"$t": its index in
    ``tensors``}, tuples and dicts marked (JSON has neither), complex numbers split."""
    if isinstance(value, torch.Tensor):
        tensors.append(value)
        return {"$t": len(tensors) - 1}
    if isinstance(value, dict):
        return {"$dict": [[k, _tree(v, tensors)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"$tuple": [_tree(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_tree(v, tensors) for v in value]
    if isinstance(value, complex):
        return {"$complex": [value.real, value.imag]}
    return value


def _untree(value: Any, tensors: list, depth: int = 0) -> Any:
    """The data ``_tree`` described, checked as it is rebuilt (nothing but plain data)."""
    if depth > MAX_DEPTH + 4:
        raise WireError("data nested too deeply")
    if isinstance(value, list):
        return [_untree(v, tensors, depth + 1) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        raise WireError("a malformed value")
    ((kind, inner),) = value.items()
    if kind == "$t" and type(inner) is int and 0 <= inner < len(tensors):
        return tensors[inner]
    if kind == "$tuple" and isinstance(inner, list):
        return tuple(_untree(v, tensors, depth + 1) for v in inner)
    if kind == "$complex" and isinstance(inner, list) and len(inner) == 2:
        return complex(float(inner[0]), float(inner[1]))
    if kind == "$dict" and isinstance(inner, list):
        pairs = {}
        for pair in inner:
            if not (isinstance(pair, list) and len(pair) == 2 and type(pair[0]) in (str, int)):
                raise WireError("a malformed dict")
            pairs[pair[0]] = _untree(pair[1], tensors, depth + 1)
        if OPAQUE in pairs and len(pairs) == 1 and isinstance(pairs[OPAQUE], list):
            module, name, number = (list(pairs[OPAQUE]) + [None, None, None])[:3]
            return Opaque(str(module), str(name), None if number is None else float(number))
        return pairs
    raise WireError("a malformed value")


def dumps(obj: Any) -> bytes:
    """An answer as ``torch.save`` bytes of {"json": text, "blob": uint8 tensor}: the JSON
    holds the structure and each tensor's dtype, shape and place in the blob, which holds
    all their bytes. The weights-only loader then reads one string and one tensor, however
    many tensors the answer has (each costs it a quarter of a millisecond)."""
    tensors: list = []
    tree = _tree(obj, tensors)
    specs, chunks, offset = [], [], 0
    for t in tensors:
        t = plain_tensor(t)
        flat = t.reshape(-1).view(torch.uint8) if t.numel() else torch.empty(0, dtype=torch.uint8)
        specs.append([str(t.dtype).removeprefix("torch."), list(t.shape), offset, flat.numel()])
        chunks.append(flat)
        offset += flat.numel()
    blob = torch.cat(chunks) if chunks else torch.empty(0, dtype=torch.uint8)
    buffer = io.BytesIO()
    torch.save({"json": json.dumps({"tree": tree, "tensors": specs}), "blob": blob}, buffer)
    return buffer.getvalue()


def loads(data: bytes) -> Any:
    """Plain data from bytes written by ``dumps`` in the learner's process, or WireError."""
    try:
        with warnings.catch_warnings():  # odd bytes make torch warn; they are refused anyway
            warnings.simplefilter("ignore")
            loaded = torch.load(io.BytesIO(data), weights_only=True)
        if not (isinstance(loaded, dict) and set(loaded) == {"json", "blob"}):
            raise WireError("not an answer")
        text, blob = loaded["json"], loaded["blob"]
        if not isinstance(text, str) or not isinstance(blob, torch.Tensor):
            raise WireError("not an answer")
        blob = blob.detach().as_subclass(torch.Tensor)
        if blob.dtype != torch.uint8 or blob.dim() != 1 or blob.layout != torch.strided:
            raise WireError("not an answer")
        head = json.loads(text)
        if not (isinstance(head, dict) and isinstance(head.get("tensors"), list)):
            raise WireError("not an answer")
        tensors = [_from_blob(blob, spec) for spec in head["tensors"]]
        return _untree(head.get("tree"), tensors)
    except WireError:
        raise
    except Exception as e:  # weights_only refuses anything but plain data; bad JSON; ...
        raise WireError(f"{type(e).__name__}: {str(e)[:300]}") from None


def _from_blob(blob: torch.Tensor, spec: Any) -> torch.Tensor:
    """One tensor cut from the blob, after checking that its description adds up."""
    if not (isinstance(spec, list) and len(spec) == 4):
        raise WireError("a malformed tensor")
    name, shape, offset, size = spec
    dtype = _DTYPES.get(name) if isinstance(name, str) else None
    if dtype is None or not (isinstance(shape, list) and len(shape) <= 16):
        raise WireError("a malformed tensor")
    if not all(type(n) is int and n >= 0 for n in (*shape, offset, size)):
        raise WireError("a malformed tensor")
    if size != math.prod(shape) * dtype.itemsize or offset + size > blob.numel():
        raise WireError("a malformed tensor")
    if size == 0:
        return torch.empty(shape, dtype=dtype)
    return blob[offset : offset + size].clone().view(dtype).reshape(shape)


_DTYPES = {
    str(d).removeprefix("torch."): d
    for d in (
        torch.float64,
        torch.float32,
        torch.float16,
        torch.bfloat16,
        torch.complex128,
        torch.complex64,
        torch.int64,
        torch.int32,
        torch.int16,
        torch.int8,
        torch.uint8,
        torch.bool,
    )
}


def pack(obj: Any) -> bytes:
    """A request as bytes: a JSON header (the tree, and each tensor's dtype and shape), then
    each tensor's bytes."""
    tensors: list = []
    tree = _tree(obj, tensors)
    buffers, specs = [], []
    for t in tensors:
        t = t.detach().cpu().contiguous()
        buffers.append(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        specs.append([str(t.dtype).removeprefix("torch."), list(t.shape)])
    head = json.dumps({"tree": tree, "tensors": specs}).encode()
    parts = [struct.pack(">I", len(head)), head]
    for buffer in buffers:
        parts += [struct.pack(">Q", len(buffer)), buffer]
    return b"".join(parts)


def unpack(data: bytes) -> Any:
    """The object ``pack`` wrote."""
    (size,) = struct.unpack_from(">I", data)
    head, offset, tensors = json.loads(data[4 : 4 + size]), 4 + size, []
    for dtype, shape in head["tensors"]:
        (length,) = struct.unpack_from(">Q", data, offset)
        buffer = bytearray(data[offset + 8 : offset + 8 + length])
        offset += 8 + length
        if buffer:
            flat = torch.frombuffer(buffer, dtype=torch.uint8).view(_DTYPES[dtype])
            tensors.append(flat.reshape(shape))
        else:
            tensors.append(torch.empty(shape, dtype=_DTYPES[dtype]))
    return _untree(head["tree"], tensors)


# ---------------------------------------------------------------- in the learner's process


def plain(value: Any, tensors: list | None = None, depth: int = 0) -> Any:
    """``value`` as plain data: tensors copied to plain CPU tensors, containers kept.

    ``tensors`` collects, in order, whether each tensor required grad.
    """
    if isinstance(value, torch.Tensor):
        if tensors is not None:
            tensors.append(bool(torch._C.TensorBase.requires_grad.__get__(value)))
        return plain_tensor(value)
    if value is None or type(value) in (bool, int, float, str, complex):
        return value[:MAX_TEXT] if type(value) is str else value
    if isinstance(value, bool):  # bool subclasses (numpy's bool_ is not one)
        return bool(value)
    if isinstance(value, int):  # IntEnum and friends
        return int(value)
    if isinstance(value, float):  # numpy.float64 is a float
        return float(value)
    if isinstance(value, str):
        return str(value)[:MAX_TEXT]
    if depth < MAX_DEPTH:
        if isinstance(value, (list, tuple)):  # NamedTuples become tuples
            items = [plain(v, tensors, depth + 1) for v in list(value)[:MAX_ITEMS]]
            return items if isinstance(value, list) else tuple(items)
        if isinstance(value, dict):
            return {
                (k if type(k) in (str, int) else repr(k)[:100]): plain(v, tensors, depth + 1)
                for k, v in list(value.items())[:MAX_ITEMS]
            }
    return {OPAQUE: [type(value).__module__, type(value).__name__, _number(value)]}


def plain_tensor(t: torch.Tensor) -> torch.Tensor:
    """A contiguous plain-class CPU copy of ``t``'s values (a subclass's tricks stripped)."""
    with torch._C.DisableTorchFunctionSubclass():
        t = torch.Tensor.detach(t)
        if t.layout != torch.strided:
            t = t.to_dense()
        if t.device.type != "cpu":
            t = t.cpu()
        copy = torch.empty(t.shape, dtype=t.dtype)
        copy.copy_(t)
    return torch.Tensor.as_subclass(copy, torch.Tensor)


def _number(value: Any) -> float | None:
    """The value of a numpy scalar or one-element array (for "a number was expected")."""
    if type(value).__module__ != "numpy" or getattr(value, "size", 0) != 1:
        return None
    try:
        return float(value)
    except Exception:
        return None


class Unreadable:
    """A reply that did not load as plain data (``why`` says what was wrong with it)."""

    def __init__(self, why: str):
        self.why = why
