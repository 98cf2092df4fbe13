"""The grader's toolkit: checks with points, calls into the learner's process, naming mistakes.

A check is a function ``check(learner, draw)`` that returns normally when it passes and
raises ``Mistake("feedback")`` when it fails. ``learner`` gives access to the learner's
functions; calling one sends the inputs to the learner's process, which calls it and
sends back plain data (see ``vaelab.grading.runtime.child``), so every comparison here runs in
the grading process, whose torch the learner's code never touched. ``draw`` holds the
check's inputs, drawn from the run's seed and the check's id. Mistakes are named by comparing
the learner's output with the reference and with known-wrong variants of the reference, never
by reading the learner's source. Each exercise's checks are a ``Checklist`` in
``vaelab.grading.checks.exNN``, registered with ``@check(id, name, points, hints)``::

    @check("kl_divergence.values", "kl_divergence: closed form, one value per example", 2.5,
           KL_HINTS)
    def _kl(learner: Learner, draw: Draw):
        kl_divergence = learner_function(learner, "kl_divergence")
        mu, logvar = draw.randn(5, 3), draw.randn(5, 3)
        expect_close(kl_divergence(mu, logvar), losses.kl_divergence(mu, logvar,
                     reduction="none"), what="the KL", variants=...)

The runner turns what happened into a ``vaelab.grading.records.CheckResult``: passed,
failed (a ``Mistake``), or not started (a function the check grades raised
NotImplementedError).
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from vaelab.grading.runtime.wire import GENERATOR, LEAF, MODEL, PREVIOUS, ROWS, Opaque, Unreadable

FEEDBACK_CHARS = 400  # longest feedback text kept from an exception message
F32, F64 = torch.float32, torch.float64
_GLOBAL_RNG = threading.Lock()  # Draw.model borrows torch's global generator; one at a time


class Mistake(Exception):
    """A failed check; the message is the feedback the learner reads."""


CHECK_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


@dataclass(frozen=True)
class Check:
    """One check of an exercise, as ``Checklist.add`` registers it."""

    exercise: str  # "ex04"
    id: str  # "ex04.kl_divergence.values": stable; seeds the inputs, keys the hint memory
    name: str  # "kl_divergence: closed form, ...": what the tables show; may be reworded
    points: float
    run: Callable[[Learner, Draw], Any]
    hints: tuple[str, ...] = ()  # on demand, one step further each time (vaelab.grade.hint)
    functions: tuple[str, ...] = ()  # the learner functions it grades ("kl_divergence",)
    stretch: bool = False  # grades the exercise's stretch function (points counted apart)


class Checklist(list):
    """One exercise's checks, in order; ``@checks.add(id, name, points, hints)`` appends one."""

    def __init__(self, exercise: str):
        super().__init__()
        self.exercise = exercise

    def add(
        self,
        id: str,
        name: str,
        points: float,
        hints: Sequence[str] = (),
        *,
        grades: Sequence[str] | None = None,
        stretch: bool = False,
    ) -> Callable:
        """Register the decorated function as a check worth ``points``.

        Args:
            id: the check's stable id within the exercise, the learner function it grades
                first: "kl_divergence.values" (made "ex04.kl_divergence.values"). Its inputs
                are drawn from it and the hints seen are remembered by it, so keep it when
                the name is reworded; a new id gives new inputs.
            name: what the tables show, the function first ("kl_divergence: ...").
            hints: what ``vaelab.grade.hint`` says while this check fails, one step
                further each time it is asked: first a nudge to the lesson's formula, then
                the idea, then the step that is usually missed. Words, not code.
            grades: the learner functions the check grades; default the id's first part.
                A check whose functions all pass lets the lesson go on with the learner's
                own (``vaelab.exercises.use``); one that fails because such a function
                still raises NotImplementedError is "not started".
            stretch: the check grades the exercise's stretch function, which goes beyond
                the lesson: the report shows it as "stretch" and counts its points apart
                from the exercise's own.
        """
        if not CHECK_ID.match(id):
            raise ValueError(f"check id {id!r}: lower-case words joined by dots, e.g. kl.values")
        full = f"{self.exercise}.{id}"
        if any(item.id == full for item in self):
            raise ValueError(f"two checks of {self.exercise} have the id {id!r}")
        functions = tuple(grades) if grades is not None else (id.split(".")[0],)

        def register(fn: Callable[[Learner, Draw], Any]) -> Callable[[Learner, Draw], Any]:
            self.append(
                Check(self.exercise, full, name, points, fn, tuple(hints), functions, stretch)
            )
            return fn

        return register


# ---------------------------------------------------------------- a check's inputs


class Draw:
    """The random inputs of one check, drawn from the run's seed and the check's id.

    A grading run draws a fresh seed (recorded in the report), so the inputs differ from
    run to run and cannot be read off the grader's source; the same seed gives the same
    inputs again. Seeds for the learner's own randomness come from a second stream.
    """

    def __init__(self, seed: int, label: str):
        digest = hashlib.sha256(f"{seed}/{label}".encode()).digest()
        self.generator = torch.Generator().manual_seed(int.from_bytes(digest[:8], "big") >> 2)
        self._seeds = torch.Generator().manual_seed(int.from_bytes(digest[8:16], "big") >> 2)

    def randn(self, *shape: int, scale: float = 1.0, dtype: torch.dtype = F32) -> torch.Tensor:
        """Standard-normal values times ``scale``, drawn in float64 and cast to ``dtype``."""
        return (torch.randn(*shape, generator=self.generator, dtype=F64) * scale).to(dtype)

    def rand(self, *shape: int, dtype: torch.dtype = F32) -> torch.Tensor:
        """Uniform values in [0, 1)."""
        return torch.rand(*shape, generator=self.generator, dtype=F64).to(dtype)

    def uniform(self, low: float, high: float) -> float:
        """One number uniform in [low, high)."""
        return low + (high - low) * float(torch.rand((), generator=self.generator, dtype=F64))

    def integer(self, low: int, high: int) -> int:
        """One integer in [low, high]."""
        return int(torch.randint(low, high + 1, (), generator=self.generator))

    def weights_like(self, t: torch.Tensor) -> torch.Tensor:
        """Weights w in [0.5, 1.5) of ``t``'s shape and dtype, for gradients of (out * w).sum()."""
        return 0.5 + self.rand(*t.shape, dtype=t.dtype)

    def seed(self) -> int:
        """A seed for the learner's randomness or a torch.Generator."""
        return int(torch.randint(0, 2**62, (), generator=self._seeds))

    def torch_generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed())

    def model(self, cls: type, **config) -> torch.nn.Module:
        """A vaelab model with freshly drawn weights (the global random state is left alone)."""
        with _GLOBAL_RNG, torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(self.seed())
            return cls(**config)


# ---------------------------------------------------------------- calling the learner's code


@dataclass
class Leaf:
    """An input sent as a leaf that requires grad; its gradient comes back as ``grads[name]``."""

    tensor: torch.Tensor
    name: str


PREVIOUS_OUTPUT = {PREVIOUS: True}  # an argument: the previous step's output (``Learner.call``)


def rows(row: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` copies of ``row`` stacked, (n, *row.shape); sent to the learner's process as the
    row and the count, where it becomes an ordinary tensor again (big inputs, little data)."""
    full = row.expand(n, *row.shape).clone()
    full._vaelab_row = row.detach().clone()
    return full


@dataclass
class Result:
    """What one call of a learner function gave, as plain data from the learner's process."""

    value: Any
    requires_grad: list[bool]  # each tensor in value, in order
    args: tuple  # the inputs as sent
    kwargs: dict
    after: dict  # {"args": [...], "kwargs": {...}}: tensor inputs after the call, else None
    grads: dict[str, torch.Tensor | None] = field(default_factory=dict)  # by Leaf name
    params: dict[str, torch.Tensor | None] = field(default_factory=dict)  # the model's
    captured: torch.Tensor | None = None  # what the model's decoder was given
    seconds: float = 0.0
    backward_error: str | None = None

    def changed(self, names: Sequence[str]) -> str | None:
        """The first input, named by ``names`` (positional) or its keyword, whose values the
        call changed; None when every tensor input is as it was sent."""
        pairs = [(name, self.args[i], self.after["args"][i]) for i, name in enumerate(names)]
        pairs += [(key, value, self.after["kwargs"].get(key)) for key, value in self.kwargs.items()]
        for name, sent, after in pairs:
            sent = sent.tensor if isinstance(sent, Leaf) else sent
            if isinstance(sent, torch.Tensor) and isinstance(after, torch.Tensor):
                if sent.shape != after.shape or not torch.equal(sent.detach(), after):
                    return name
        return None


class Learner:
    """The learner's file as the checks see it: its names, and its functions to call.

    ``transport.call(request)`` runs a request in the learner's process (or, for tests, in
    this one) and returns ``(reply, events)``; see ``vaelab.grading.runtime.sandbox``.
    """

    def __init__(self, transport, names: dict[str, str | None], memory_gb: float | None = None):
        self.transport, self.names, self.memory_gb = transport, names, memory_gb
        self._draw: Draw | None = None  # the running check's inputs
        self.stood_in: set[str] = set()  # learner functions the running check replaced
        self.used: set[str] = set()  # learner functions the running check called
        self.not_started: set[str] = set()  # of those, the ones that raised NotImplementedError
        self.caught: dict[str, list[str]] = {}  # function -> feedback on reference use
        self.memo: dict[str, Any] = {}  # what one check learned that a later one may reuse

    @property
    def draw(self) -> Draw | None:
        return self._draw

    @draw.setter
    def draw(self, draw: Draw | None) -> None:  # a new check starts: nothing replaced yet
        self._draw, self.stood_in = draw, set()

    def _request(
        self, steps, *, backward=None, capture=None, after=False, value=True, stand_in=None
    ) -> dict:
        request = {
            "steps": [
                {"function": n, "args": _to_wire(list(a)), "kwargs": _to_wire(k)}
                for n, a, k in steps
            ],
            "seed": self.draw.seed() if self.draw else 0,
            "backward": None if backward is None else _to_wire(list(backward)),
            "capture": capture,
            "after": after,
            "value": value,
        }
        if stand_in:
            request["stand_in"] = {
                helper: [[_to_wire(list(inputs)), _to_wire(out)] for inputs, out in pairs]
                for helper, pairs in stand_in.items()
            }
        return request

    def call(
        self,
        steps: list[tuple[str, tuple, dict]],
        *,
        backward: list | None = None,
        capture: str | None = None,
        after: bool = True,
        value: bool = True,
        stand_in: dict | None = None,
    ) -> Result:
        """Run ``steps`` (function name, args, kwargs) in the learner's process, each step
        given the previous one's output where an argument is ``PREVIOUS_OUTPUT``.

        Args:
            backward: weights, one per tensor of the last output ("ones" for ones, None to
                skip it): backpropagate sum((out * w).sum()) and send back the gradients.
            capture: "decoder" to send back what the model's decoder was given.
            after: send back the tensor inputs as they are after the call.
            value: send back the output (False when only the captured codes matter).
        """
        names = [name for name, _, _ in steps]
        self.used.update(names)
        request = self._request(
            steps, backward=backward, capture=capture, after=after, value=value, stand_in=stand_in
        )
        reply, events = self.transport.call(request)
        self._check_events(names, events)
        return self._result(names, steps[-1], reply)

    def many(
        self, name: str, calls: Sequence[tuple[tuple, dict]], stand_in: dict | None = None
    ) -> list[Outcome]:
        """Call ``name`` on each (args, kwargs) in one request; an ``Outcome`` for each (the
        learner's process stops at the first call that raises).

        ``stand_in`` ({helper: [(inputs, value), ...]}, see ``grade_alone``) makes the
        learner's ``helper`` answer with the given values during these calls."""
        self.used.add(name)
        request = {"batch": [self._request([(name, a, k)], stand_in=stand_in) for a, k in calls]}
        reply, events = self.transport.call(request)
        self._check_events([name], events)
        if not isinstance(reply, dict) or "batch" not in reply:  # unreadable, or too large
            reply = {"batch": [reply]}
        replies = list(reply.get("batch") or [])
        return [
            Outcome(self, name, (name, a, k), replies[i] if i < len(replies) else None)
            for i, (a, k) in enumerate(calls)
        ]

    def _check_events(self, names: list[str], events: list) -> None:
        """A Mistake when the learner's process reported a reference call or a refused act."""
        if events:
            for name in names:
                self.caught.setdefault(name, []).append(event_feedback(name, events[0]))
            raise Mistake(event_feedback(names[-1], events[0]))

    def _result(self, names: list[str], step: tuple, reply: Any) -> Result:
        """The reply as a Result; a Mistake for an exception or an unreadable reply."""
        if isinstance(reply, Unreadable) or not isinstance(reply, dict):
            raise Mistake(
                f"what `{names[-1]}` returned could not be read: return tensors, numbers, or "
                "tuples and lists of them."
            )
        if reply.get("error"):
            index = reply.get("error_step") or 0
            if reply["error"].get("kind") == "not_implemented":
                self.not_started.add(names[index])
            raise Mistake(exception_feedback(names[index], reply["error"], self.memory_gb))
        _, args, kwargs = step
        return Result(
            value=reply.get("value"),
            requires_grad=list(reply.get("requires_grad") or []),
            args=tuple(args),
            kwargs=dict(kwargs),
            after=reply.get("after") or {"args": [None] * len(args), "kwargs": {}},
            grads=reply.get("grads") or {},
            params=reply.get("params") or {},
            captured=reply.get("captured"),
            seconds=float(reply.get("seconds") or 0.0),
            backward_error=reply.get("backward_error"),
        )


class Outcome:
    """One call of a batch (``Learner.many``); ``.value`` raises the call's Mistake, if any."""

    def __init__(self, learner: Learner, name: str, step: tuple, reply: Any):
        self.learner, self.name, self.step, self.reply = learner, name, step, reply

    @property
    def value(self) -> Any:
        if self.reply is None:  # not run: an earlier call of the batch failed
            raise Mistake(f"`{self.name}` was not called: an earlier call failed.")
        return self.learner._result([self.name], self.step, self.reply).value


class LearnerFunction:
    """One of the learner's functions; calling it returns its output as plain data."""

    def __init__(self, learner: Learner, name: str):
        self.learner, self.name = learner, name

    def __call__(self, *args, **kwargs) -> Any:
        return self.learner.call([(self.name, args, kwargs)], after=False).value

    def run(
        self, *args, backward=None, capture=None, value=True, stand_in=None, **kwargs
    ) -> Result:
        """The full ``Result`` of a call (inputs after it, gradients, captured codes)."""
        return self.learner.call(
            [(self.name, args, kwargs)],
            backward=backward,
            capture=capture,
            value=value,
            stand_in=stand_in,
        )

    def many(
        self, calls: Sequence[tuple[tuple, dict]], stand_in: dict | None = None
    ) -> list[Outcome]:
        """Each (args, kwargs) called in one request, for checks that try several inputs
        (``stand_in``: see ``Learner.many``)."""
        return self.learner.many(self.name, calls, stand_in)

    def values(self, calls: Sequence[tuple[tuple, dict]]) -> list:
        """The outputs of ``many``, raising the first call's Mistake, if any."""
        return [outcome.value for outcome in self.many(calls)]


def raised_error(outcome: Outcome, learner: Learner, name: str) -> dict | None:
    """The exception a call raised, as plain data ({"type": "ValueError", ...}); None when
    it returned. A stub, an exit, a recursion or running out of memory is a Mistake with
    its usual feedback: those are not the error a check of refused input asks for."""
    reply = outcome.reply if isinstance(outcome.reply, dict) else {}
    error = reply.get("error")
    if error and error.get("kind") in ("not_implemented", "exit", "recursion", "memory"):
        raise Mistake(exception_feedback(name, error, learner.memory_gb))
    return error or None


def learner_function(learner: Learner, name: str) -> LearnerFunction:
    """The learner's function ``name``; a Mistake when it is missing or not a function."""
    if name not in learner.names:
        raise Mistake(f"`{name}` is missing from your file: keep the function and its name.")
    if learner.names[name] is not None:
        raise Mistake(f"`{name}` should be a function, but it is {learner.names[name]}.")
    return LearnerFunction(learner, name)


def _to_wire(value: Any) -> Any:
    """Arguments as plain data: models as spec and weights, generators as their state."""
    if isinstance(value, Leaf):
        return {LEAF: value.tensor.detach(), "name": value.name}
    if isinstance(value, torch.nn.Module) and hasattr(value, "spec"):
        dtype = next(value.parameters()).dtype
        return {
            MODEL: value.spec(),
            "state": value.state_dict(),
            "key": id(value),
            "dtype": dtype_name(dtype),
        }
    if isinstance(value, torch.Generator):
        return {GENERATOR: value.get_state()}
    if isinstance(value, torch.Tensor):
        row = getattr(value, "_vaelab_row", None)
        if row is not None:
            return {ROWS: row, "n": value.shape[0]}
        return value.detach()
    if isinstance(value, (list, tuple)):
        items = [_to_wire(v) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {k: _to_wire(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------- feedback on what went wrong


def shorten(text: str, limit: int = FEEDBACK_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


EXCEPTION_HINTS = (
    (
        "all elements of input should be between 0 and 1",
        " - F.binary_cross_entropy expects probabilities, but x_logits are logits: "
        "use F.binary_cross_entropy_with_logits(x_logits, x) instead",
    ),
    (
        "numpy() on tensor that requires grad",
        " - stay in torch: going through numpy cuts the gradient",
    ),
    (
        "in-place operation",
        " - an input was changed in place; compute a new tensor instead (x = x + 1, not x += 1)",
    ),
    ("unexpected keyword argument", " - keep the function's signature as given in the exercise"),
    ("positional argument", " - keep the function's signature as given in the exercise"),
    ("file too large", " - your code printed far too much; remove the prints in loops"),
    (
        "must match the size of tensor",
        " - two tensors of different shapes meet: is a size typed in (a batch size, 784 "
        "pixels, a number of dimensions) where it should come from the inputs?",
    ),
    (
        "is invalid for input of size",
        " - a shape is typed in (like 784 for 28x28 images): take the sizes from the inputs, "
        "so that any image size and batch size work",
    ),
    (
        "must have the same dtype",
        " - tensors of two dtypes meet: make new tensors in the dtype of the inputs (or of "
        "the model's parameters)",
    ),
    (
        "expected scalar type",
        " - tensors of two dtypes meet: make new tensors in the dtype of the inputs (or of "
        "the model's parameters)",
    ),
    (
        "division by zero",
        " - a division by zero in plain Python: which input can be 0 here, and what does the "
        "docstring say the result is then? Handle that case before dividing",
    ),
    (
        "math range error",
        " - math.exp overflows for arguments above about 709: rearrange the formula so that "
        "the exponential only ever sees a number <= 0",
    ),
    (
        "bincount only supports",
        " - labels may be any integers, negative ones too: map them to 0, 1, 2, ... first",
    ),
    (
        "class values must be non-negative",
        " - labels may be any integers, negative ones too: map them to 0, 1, 2, ... first",
    ),
    (
        "one_hot is only applicable to index tensor",
        " - labels may come as any integer dtype: map them to 0, 1, 2, ... (int64) first",
    ),
    (
        "could not get source code",
        " - vaelab's source is not available while your file is graded: write the formula yourself",
    ),
)


def out_of_memory(kind: str, text: str, limit_gb: float | None) -> str | None:
    """For an allocation that failed: what happened, in words; None for other errors."""
    if not (kind == "memory" or "can't allocate memory" in text.lower()):
        return None
    asked = re.search(r"allocate (\d+) bytes", text)
    size = f" (one tensor of {int(asked.group(1)) / 2**30:.2g} GiB)" if asked else ""
    limit = f"{limit_gb:g} GiB" if limit_gb else "the machine's memory"
    return (
        f"ran out of memory{size}: more than grading allows ({limit}). Is a tensor far "
        "bigger than the exercise needs, or are results kept in a list on every iteration?"
    )


def hint_for(text: str) -> str:
    """The hint added to an exception's feedback: what the error usually means here."""
    return next((h for key, h in EXCEPTION_HINTS if key in text.lower()), "")


def exception_feedback(name: str, error: dict, memory_gb: float | None = None) -> str:
    """Feedback on an exception from the learner's function ``name`` (sent as plain data)."""
    kind, text = error.get("kind"), str(error.get("message", ""))
    if kind == "missing":
        return f"`{name}` is missing from your file: keep the function and its name."
    if kind == "not_implemented":
        return f"`{name}` is not implemented yet (it raises NotImplementedError)."
    if kind == "exit":
        return f"`{name}` called sys.exit({error.get('code')}); return a value instead."
    if kind == "recursion":
        return f"`{name}` recursed without end (RecursionError)."
    if kind == "unreadable":
        return (
            f"what `{name}` returned could not be sent back ({error.get('type')}: "
            f"{shorten(text, 200)}): return tensors, numbers, or tuples and lists of them."
        )
    memory = out_of_memory(kind, text, memory_gb)
    if memory:
        return f"`{name}` {memory}"
    return f"`{name}` raised {error.get('type')}: {shorten(text)}{hint_for(text)}"


def reference_name(label: str) -> str:
    """How feedback names a protected reference: "losses.kl_divergence", "model.encode"."""
    parts = label.split(".")
    return f"model.{parts[-1]}" if len(parts) > 2 else label


def event_feedback(name: str, event) -> str:
    """Feedback on what the learner's process reported while ``name`` ran."""
    if event.kind == "reference":
        label = event.detail
        if len(label.split(".")) > 2:
            advice = "build it from the model's layers yourself, as the exercise asks"
        else:
            advice = "write the formula yourself"
        return f"`{name}` calls vaelab's own `{reference_name(label)}`: {advice}."
    return (
        f"`{name}` {event.detail}, which grading does not allow: write the function with "
        "torch operations on its inputs."
    )


def describe(value: Any) -> str:
    """A short description of a value for feedback: 'a list', 'a float32 tensor of shape (3,)'."""
    if isinstance(value, torch.Tensor):
        return f"a {str(value.dtype).replace('torch.', '')} tensor of shape {tuple(value.shape)}"
    if value is None:
        return "None (is a `return` missing?)"
    name = type_name(value)
    article = "an" if name[:1] in "aeiou" else "a"
    return f"{article} {name}"


def type_name(value: Any) -> str:
    """The type's name of a value the learner returned ("int", "ndarray", "Tensor")."""
    return value.name if isinstance(value, Opaque) else type(value).__name__


def as_tensor(value: Any, what: str) -> torch.Tensor:
    """Return value if it is a tensor, else raise a Mistake saying what came back instead."""
    if isinstance(value, torch.Tensor):
        return value
    extra = ""
    if isinstance(value, Opaque) and value.module == "numpy":
        extra = " - stay in torch (no .numpy()) so that gradients can flow"
    elif isinstance(value, (int, float)):
        extra = " - a Python number loses the batch dimension and the gradient (no .item())"
    raise Mistake(
        f"{what} should be a torch.Tensor, but your function returned {describe(value)}{extra}."
    )


def as_number(value: Any, what: str) -> float:
    """A plain number from int, float or a one-element tensor; a Mistake otherwise."""
    if isinstance(value, bool):
        raise Mistake(f"{what} should be a number, but your function returned a bool.")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value)
    if isinstance(value, Opaque) and value.number is not None:
        return value.number
    raise Mistake(f"{what} should be a number, but your function returned {describe(value)}.")


# ---------------------------------------------------------------- comparing with the reference


def tolerances(dtype: torch.dtype) -> tuple[float, float]:
    """(rtol, atol) for comparing results of this dtype: its own precision, with room for
    a different order of the same operations."""
    if dtype == torch.float64:
        return 1e-9, 1e-11
    if dtype in (torch.float16, torch.bfloat16):
        return 1e-2, 1e-3
    return 1e-4, 1e-5


def close(got: torch.Tensor, want: torch.Tensor, *, dtype: torch.dtype | None = None) -> bool:
    """Same shape and values within the tolerance of ``dtype`` (default ``want``'s dtype);
    NaN matches NaN and inf matches inf of the same sign."""
    if not isinstance(got, torch.Tensor) or got.shape != want.shape:
        return False
    rtol, atol = tolerances(dtype or want.dtype)
    got64, want64 = got.detach().double().cpu(), want.detach().double().cpu()
    return bool(torch.allclose(got64, want64, rtol=rtol, atol=atol, equal_nan=True))


def float32_precision(got: torch.Tensor, want: torch.Tensor) -> bool:
    """True when ``got`` matches the float64 ``want`` at float32 precision only."""
    return want.dtype == F64 and not close(got, want) and close(got, want, dtype=F32)


Variants = Iterable[tuple[str, "torch.Tensor | Callable[[], torch.Tensor]"]]


def matching_variant(
    got: torch.Tensor, variants: Variants, want: torch.Tensor | None = None
) -> str | None:
    """The feedback of the first variant that ``got`` matches, or None. A float64 result
    is matched at float32 precision: a known mistake stays known when a step of it also ran
    in float32. A variant that equals ``want`` on these inputs is no mistake here: skipped."""
    loose = F32 if isinstance(got, torch.Tensor) and got.dtype == F64 else None
    for message, variant in variants:
        try:
            value = variant() if callable(variant) else variant
        except Exception:  # a variant that cannot be computed here matches nothing
            continue
        if not isinstance(value, torch.Tensor):
            continue
        value = value.to(got.dtype)
        if want is not None and close(value, want.to(got.dtype), dtype=loose):
            continue
        if close(got, value, dtype=loose):
            return message
    return None


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def expect_close(
    got: Any,
    want: torch.Tensor,
    *,
    what: str,
    case: str = "",
    variants: Variants = (),
    hint: str = "",
    precision: str = "",
) -> torch.Tensor:
    """Raise a Mistake unless ``got`` equals ``want`` within tolerance; name the known mistake.

    Args:
        got: the learner's result.
        want: the reference result; its dtype sets the tolerance (float32 results are
            compared at float32 precision, float64 ones at float64 precision).
        what: how the feedback names the result ("reparameterize's z").
        case: the input, in words ("for mu of shape (1, 1)").
        variants: (feedback, known-wrong result) pairs, tried in order; a callable is
            evaluated only when needed.
        hint: added to the generic feedback when no variant matches.
        precision: the feedback for a float64 result that is right only to float32
            precision (default: a general one).

    Returns:
        got, as a tensor.
    """
    got = as_tensor(got, what)
    at = f" {case}" if case else ""
    variants = list(variants)
    if got.shape != want.shape:
        if want.dim() and want.shape[0] == 1 and got.shape == want.squeeze().shape:
            raise Mistake(  # a batch of one: a squeeze and a sum over the batch look alike
                f"{what} has shape {tuple(got.shape)}{at}; expected {tuple(want.shape)}: keep "
                "one value per example even when B is 1. A .squeeze() (or an index like [0]) "
                "drops the batch dimension of a batch of one, and so does a sum or a mean over "
                "the batch."
            )
        message = matching_variant(got, variants)
        if message:
            raise Mistake(message)
        raise Mistake(
            f"{what} has shape {tuple(got.shape)}{at}; expected {tuple(want.shape)}."
            + (f" {hint}" if hint else "")
        )
    if close(got, want) or float32_precision(got, want):
        if got.dtype != want.dtype:
            raise Mistake(
                f"{what} has dtype {dtype_name(got.dtype)}{at}; keep the inputs' "
                f"dtype ({dtype_name(want.dtype)})."
            )
        if close(got, want):
            return got
    message = matching_variant(got, variants, want)
    if message:
        raise Mistake(message)
    if float32_precision(got, want):
        gap = float((got.detach().double() - want.detach().double()).abs().max())
        raise Mistake(
            precision
            or (
                f"{what} is right only to float32 precision{at} (largest difference "
                f"{gap:.1g}), but the inputs are float64: a step of your computation runs "
                "in float32 (a tensor made without dtype=, a float32 constant, .float()). "
                "Make every new tensor in the inputs' dtype."
            )
        )
    raise Mistake(
        f"{what} is not right{at}: {describe_difference(got, want)}" + (f" {hint}" if hint else "")
    )


def _index(flat: int, shape: torch.Size) -> str:
    """The index of the ``flat``-th entry of a tensor of ``shape``, as "[2, 0]"."""
    index = []
    for size in reversed(shape):
        index.append(flat % size)
        flat //= size
    return "[" + ", ".join(str(i) for i in reversed(index)) + "]"


def _ratio_words(c: float) -> str:
    """The same words for every factor, so that a class summary groups them (numbers masked)."""
    return f"{c:.4g} times the expected value"


def describe_difference(got: torch.Tensor, want: torch.Tensor) -> str:
    """Where ``got`` differs from ``want`` (same shape), in words and never as code: which
    entries, by how much, and the pattern when there is one (the sign, a constant factor, a
    constant shift, a shift per row or column, a transposition, an index shifted by one), so
    that feedback can lead to the idea without showing the expected formula."""
    g, w = got.detach().double().cpu(), want.detach().double().cpu()
    rtol, atol = tolerances(F32 if want.dtype == F64 else want.dtype)
    near = lambda a, b: bool(torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))  # noqa: E731
    if not torch.isfinite(g).all() and torch.isfinite(w).all():
        bad = (~torch.isfinite(g)).flatten().nonzero().flatten()
        return (
            f"{len(bad)} of {g.numel()} entries are inf or NaN (the first at index "
            f"{_index(int(bad[0]), g.shape)}), where every value should be finite."
        )
    if g.numel() == 1:
        got1, want1 = float(g), float(w)
        words = f"it is {got1:.6g} where {want1:.6g} is expected"
        if want1 != 0 and math.isclose(got1, -want1, rel_tol=1e-4):
            return words + ": the size is right, the sign is not."
        if want1 != 0 and got1 != 0:
            return words + f" ({_ratio_words(got1 / want1)}, or {got1 - want1:+.4g} off)."
        return words + " (the only entry)."
    diff = g - w
    wrong = ~torch.isclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
    count = int(wrong.sum())
    patterns = []
    if near(g, -w) and w.abs().max() > atol:
        patterns.append("every entry has the right size and the wrong sign")
    mask = w.abs() > 1e-12
    if not patterns and mask.any():
        c = float((g[mask] / w[mask]).median())
        if c != 0 and near(g, c * w):
            patterns.append(f"every entry is {_ratio_words(c)}: a constant factor is off")
    if not patterns:
        c = float(diff.median())
        if near(g, w + c):
            patterns.append(f"every entry is off by the same amount, {c:+.4g}: a constant term")
    if not patterns and g.dim() >= 2:
        row, col = diff.mean(dim=-1, keepdim=True), diff.mean(dim=0, keepdim=True)
        if near(g, w + row):
            patterns.append(
                "each row is off by a constant of its own (a shift that depends on the row "
                "only): a term computed per row is missing, extra or wrong"
            )
        elif near(g, w + col):
            patterns.append(
                "each column is off by a constant of its own: a term computed per column is "
                "missing, extra or wrong"
            )
    if not patterns and g.dim() == 2 and g.shape[0] == g.shape[1] and near(g, w.T):
        patterns.append("it is the expected result transposed: rows and columns are swapped")
    if not patterns:
        for dim in range(g.dim()):
            if g.shape[dim] < 3:
                continue
            n = g.shape[dim]
            ahead, behind = g.narrow(dim, 0, n - 1), w.narrow(dim, 1, n - 1)
            if near(ahead, behind):
                patterns.append(
                    f"along dimension {dim}, each entry holds the value expected one position "
                    "later: an index is shifted by one"
                )
                break
            if near(g.narrow(dim, 1, n - 1), w.narrow(dim, 0, n - 1)):
                patterns.append(
                    f"along dimension {dim}, each entry holds the value expected one position "
                    "earlier: an index is shifted by one"
                )
                break
    first = int(wrong.flatten().nonzero().flatten()[0]) if count else 0
    gap = float(diff.abs().nan_to_num(nan=math.inf).max())
    # the size of the gap first (a class summary shows the start of a text), and no number
    # right before a full stop (the summary masks numbers to group texts)
    entries = f"all {count} entries" if count == g.numel() else f"{count} of {g.numel()} entries"
    where = (
        f"largest difference {gap:.3g}, in {entries}; the first, at index "
        f"{_index(first, g.shape)}, is {float(g.flatten()[first]):.6g} where "
        f"{float(w.flatten()[first]):.6g} is expected"
    )
    if count < g.numel() and not patterns:
        rows = sorted({int(i) for i in wrong.nonzero()[:, 0]}) if g.dim() else []
        if g.dim() >= 1 and len(rows) < g.shape[0]:
            shown = ", ".join(str(r) for r in rows[:6]) + (", ..." if len(rows) > 6 else "")
            label = "row" if len(rows) == 1 else "rows"
            where += f" ({label} {shown} only; the other rows are right)"
    return where + (f"; {patterns[0]}." if patterns else ".")


def shape_words(**tensors: torch.Tensor) -> str:
    """'for mu and logvar of shape (1, 1)' style text for feedback."""
    shapes = {tuple(t.shape) for t in tensors.values()}
    names = " and ".join(f"`{k}`" for k in tensors)
    if len(shapes) == 1:
        return f"for {names} of shape {shapes.pop()}"
    return "for " + ", ".join(f"`{k}` of shape {tuple(t.shape)}" for k, t in tensors.items())


def expect_unchanged(result: Result, names: Sequence[str], name: str) -> None:
    """Raise a Mistake if the call changed one of its tensor inputs in place.

    ``names`` are the positional parameters' names (keyword arguments use their keys).
    """
    key = result.changed(names)
    if key is not None:
        raise Mistake(
            f"`{name}` changed its input `{key}` in place; leave inputs as they are and "
            f"build a new tensor (e.g. `{key} * 2`, not `{key} *= 2` or `{key}.exp_()`)."
        )


BLOCKED = (
    "no gradient reaches {names}: {what} is cut off from the graph. torch.no_grad(), "
    ".detach(), .item(), numpy, torch.normal(mean, std) and Distribution.sample() all "
    "block gradients; build the result from the inputs with torch operations."
)


def expect_gradients(result: Result, want_grads: dict[str, torch.Tensor], *, what: str) -> None:
    """Compare the gradients the learner's process sent back with the reference's.

    ``result`` comes from a call with ``Leaf`` inputs and ``backward=[w]``; ``want_grads``
    are the reference's gradients of ``(out * w).sum()`` with the same w
    (``weighted_grads``).
    """
    as_tensor(result.value, what)
    names = " and ".join(f"`{k}`" for k in want_grads)
    if not any(result.requires_grad):
        raise Mistake(BLOCKED.format(names=names, what=what))
    if result.backward_error:
        raise Mistake(f"the gradient of {what} could not be computed ({result.backward_error}).")
    for key, want in want_grads.items():
        got = result.grads.get(key)
        if got is None:
            raise Mistake(BLOCKED.format(names=f"`{key}`", what=what))
        if not close(got, want):
            raise Mistake(
                f"the gradient of {what} with respect to `{key}` is not right; the values are "
                "probably off too (see the other checks)."
            )


def weighted_grads(
    fn: Callable[..., torch.Tensor], weights: torch.Tensor, **inputs: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Reference gradients of ``(fn(**inputs) * weights).sum()`` with respect to each input."""
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in inputs.items()}
    (fn(**leaves) * weights).sum().backward()
    return {k: v.grad for k, v in leaves.items()}


def reached(result: Result, part: str) -> bool:
    """True when some parameter of the model's ``part`` ("encoder") got a gradient."""
    return any(g is not None for k, g in result.params.items() if k.startswith(part + "."))


def needs_working(ok: bool, name: str) -> None:
    """A Mistake unless ``name`` is right on ordinary inputs (for checks of a property)."""
    if not ok:
        raise Mistake(
            f"first make `{name}` right on ordinary inputs (see the check above that compares "
            "its values); this check tests a property of a working function."
        )


# ---------------------------------------------------------------- one function using another

CULPRIT = "`{user}` uses your `{helper}`, which fails its own check: fix that first."


def helper_output(learner: Learner, helper: str, *args, **kwargs) -> Any:
    """What the learner's ``helper`` returns on these inputs, asked of the learner's process
    (a check that already called ``user`` on them asks what ``user`` may have built on);
    None when the helper is missing, raises or calls a reference."""
    if learner.names.get(helper, 0) is not None:  # missing, or not a function
        return None
    try:
        return learner.call([(helper, args, kwargs)], after=False).value
    except Mistake:
        return None


def culprit(
    learner: Learner,
    *,
    user: str,
    helper: str,
    args: tuple,
    want_helper: torch.Tensor,
    got: Any,
    rebuild: Callable[[torch.Tensor], torch.Tensor],
    want: torch.Tensor,
    variants: Variants = (),
) -> str | None:
    """Feedback naming ``helper`` when ``user`` failed because it builds on the learner's own
    ``helper``, which is wrong on the same inputs; None otherwise.

    The learner's process is asked for ``helper(*args)``; when that differs from
    ``want_helper`` and ``rebuild(learner's helper output)`` gives ``got`` (what ``user``
    returned), ``user`` is right up to its helper. ``rebuild(h)`` is the reference ``user``
    with ``h`` in place of the reference helper's output; a ``variants`` match of ``got``
    with the helper's error taken out adds what else is wrong.
    """
    if not isinstance(got, torch.Tensor):
        return None
    mine = helper_output(learner, helper, *args)
    if not isinstance(mine, torch.Tensor):
        return None
    if close(mine, want_helper, dtype=F32):
        return None  # the helper is right here: the problem is in ``user`` itself
    try:
        theirs = rebuild(mine.to(want_helper.dtype))  # the reference user on their helper
    except Exception:
        return None
    first = CULPRIT.format(user=user, helper=helper)
    if isinstance(theirs, torch.Tensor) and close(got, theirs.to(got.dtype), dtype=F32):
        return first
    try:  # the helper's error taken out of got: is something else wrong too?
        fixed = got.detach().double() - theirs.double() + want.double()
    except Exception:
        return None
    message = matching_variant(fixed.to(got.dtype), variants)
    return f"{first} Besides, {message}" if message else None


STOOD_IN = (
    " With vaelab's `{helper}` in its place, your `{user}` is right: this check's points are "
    "yours. The lesson goes on with vaelab's `{user}` until your `{helper}` passes too."
)


def helper_is_wrong(learner: Learner, helper: str, args: tuple, want: torch.Tensor) -> bool:
    """True when the learner's ``helper`` gives something other than ``want`` on ``args``
    (a wrong value or shape, an error, not a tensor); False when it is right or missing."""
    if learner.names.get(helper, 0) is not None:  # missing, or not a function
        return False
    try:
        mine = learner.call([(helper, args, {})], after=False).value
    except Mistake:
        return True
    return not (isinstance(mine, torch.Tensor) and close(mine, want, dtype=F32))


def _same_answer(a: Outcome, b: Outcome) -> bool:
    """Both calls gave the same tensor (or raised the same feedback)."""
    try:
        first = a.value
    except Mistake as e:
        try:
            _ = b.value
        except Mistake as f:
            return str(e) == str(f)
        return False
    try:
        second = b.value
    except Mistake:
        return False
    if isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor):
        return close(second, first)
    return False


def grade_alone(
    learner: Learner,
    user: LearnerFunction,
    calls: Sequence[tuple[tuple, dict]],
    expect: Callable[[int, Any], None],
    *,
    helper: str,
    helper_calls: Sequence[tuple[tuple, torch.Tensor]],
) -> tuple[str | None, dict | None]:
    """Grade ``user`` on ``calls`` on its own, even when it builds on the learner's failing
    ``helper`` (negative_elbo on kl_divergence).

    ``expect(i, value)`` raises a Mistake when the i-th call's value is wrong.
    ``helper_calls`` are the helper's inputs for these calls and vaelab's answer on them.
    When ``user`` fails and the learner's ``helper`` is wrong on those inputs, ``user`` runs
    again with the helper answering vaelab's values (``Learner.many``'s ``stand_in``): right
    then, the check passes with feedback that names the helper first; still wrong, the
    feedback names the helper first and then what else is wrong. A ``user`` that gives the
    same answer either way does not use the helper: its own mistake is the feedback.

    Returns:
        (note, stand_in): None and None when ``user`` is right by itself; else the feedback
        of a check that passes thanks to the stand-in, and the stand-in, for the check's
        further calls (``LearnerFunction.many(..., stand_in)``).
    """
    outcomes = user.many(calls)
    try:
        for i, outcome in enumerate(outcomes):
            expect(i, outcome.value)
        return None, None
    except Mistake as own:
        if user.name in learner.not_started or not any(
            helper_is_wrong(learner, helper, args, want) for args, want in helper_calls
        ):
            raise
        stand_in = {helper: list(helper_calls)}
        again = user.many(calls, stand_in=stand_in)
        if all(_same_answer(a, b) for a, b in zip(outcomes, again, strict=True)):
            raise own from None  # the helper's answers change nothing: it is not used
        first = CULPRIT.format(user=user.name, helper=helper)
        try:
            for i, outcome in enumerate(again):
                expect(i, outcome.value)
        except Mistake as besides:
            raise Mistake(f"{first} Besides, {besides}") from None
    learner.stood_in.add(helper)
    return first + STOOD_IN.format(helper=helper, user=user.name), stand_in
