"""What crosses between the grading process and the learner's process, and how.

The grader sends requests ("call ``kl_divergence`` with these tensors"); the learner's
process answers with plain data only: tensors of class ``torch.Tensor``, numbers, bools,
strings, None, and lists, tuples and dicts of these. Both directions are frames
(4-byte length, 1-byte kind, payload) on pipes. Answers are ``torch.save`` bytes, which
the grader reads with ``torch.load(..., weights_only=True)``: it builds no object but
those. Whatever else the learner's code returns travels as a description (``Opaque``):
its type, and its value when it is a single number. Requests, the grader's own data, use
a lighter format (``pack``: a JSON header and the tensors' bytes), several times faster
to write and read than ``torch.save``.
"""

from __future__ import annotations

import io
import json
import os
import select
import struct
import time
from typing import Any

import torch

HELLO, REPLY, EVENT, REQUEST, FAILED = b"H", b"R", b"E", b"Q", b"F"
MAX_FRAME = 256 * 2**20  # bytes one reply may have; more means the learner's process is broken
MAX_ITEMS = 10_000  # list/dict items kept per container
MAX_DEPTH = 8  # nesting kept
MAX_TEXT = 10_000  # characters kept per string

# Markers: dicts standing for things that are not plain data.
MODEL = "__vaelab_model__"  # {MODEL: spec, "state": state_dict, "key": k}: a vaelab model
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


def dumps(obj: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def loads(data: bytes) -> Any:
    """Plain data from bytes written by ``dumps`` in the learner's process, or WireError."""
    try:
        return _trusted(torch.load(io.BytesIO(data), weights_only=True), 0)
    except WireError:
        raise
    except Exception as e:  # weights_only refuses anything but plain data
        raise WireError(f"{type(e).__name__}: {str(e)[:300]}") from None


def _trusted(value: Any, depth: int) -> Any:
    """The loaded value with tensors of exactly class torch.Tensor and Opaque markers decoded."""
    if depth > MAX_DEPTH + 2:
        raise WireError("data nested too deeply")
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
        if type(tensor) is not torch.Tensor:  # e.g. a Parameter
            tensor = tensor.as_subclass(torch.Tensor)
        if tensor.layout != torch.strided or tensor.device.type != "cpu":
            raise WireError("a tensor that is not a dense CPU tensor")
        return tensor
    if isinstance(value, (list, tuple)):
        items = [_trusted(v, depth + 1) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        if OPAQUE in value and len(value) == 1:
            module, name, number = value[OPAQUE]
            return Opaque(str(module), str(name), None if number is None else float(number))
        return {k: _trusted(v, depth + 1) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str, complex)):
        return value
    raise WireError(f"a value of type {type(value).__name__}")


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
    """A request as bytes: a JSON header (tensors replaced by their dtype, shape and the
    index of their bytes; tuples and dicts marked), then each tensor's bytes."""
    buffers: list[bytes] = []

    def walk(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            buffers.append(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
            return {"$tensor": len(buffers) - 1, "dtype": str(t.dtype)[6:], "shape": list(t.shape)}
        if isinstance(value, dict):
            return {"$dict": [[k, walk(v)] for k, v in value.items()]}
        if isinstance(value, tuple):
            return {"$tuple": [walk(v) for v in value]}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    head = json.dumps(walk(obj)).encode()
    parts = [struct.pack(">I", len(head)), head]
    for buffer in buffers:
        parts += [struct.pack(">Q", len(buffer)), buffer]
    return b"".join(parts)


def unpack(data: bytes) -> Any:
    """The object ``pack`` wrote."""
    (size,) = struct.unpack_from(">I", data)
    head, offset, buffers = json.loads(data[4 : 4 + size]), 4 + size, []
    while offset < len(data):
        (length,) = struct.unpack_from(">Q", data, offset)
        buffers.append(bytearray(data[offset + 8 : offset + 8 + length]))
        offset += 8 + length

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [walk(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "$tensor" in value:
            dtype, shape = _DTYPES[value["dtype"]], value["shape"]
            buffer = buffers[value["$tensor"]]
            if not buffer:
                return torch.empty(shape, dtype=dtype)
            return torch.frombuffer(buffer, dtype=torch.uint8).view(dtype).reshape(shape)
        if "$tuple" in value:
            return tuple(walk(v) for v in value["$tuple"])
        return {k: walk(v) for k, v in value["$dict"]}

    return walk(head)


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
