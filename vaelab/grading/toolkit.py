"""The grader's toolkit: checks with points, safe calls into learner code, naming mistakes.

A check is a function of the learner's module that returns normally when it passes and
raises ``Mistake("feedback")`` when it fails. Mistakes are named by comparing the
learner's output with the reference and with known-wrong variants of the reference,
never by reading the learner's source. Each exercise's checks are a ``Checklist`` in
``vaelab.grading.exNN``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch

FEEDBACK_CHARS = 400  # longest feedback text kept from an exception message
MEMORY_LIMIT_GB: float | None = None  # set in a grading process that has a memory limit


class Mistake(Exception):
    """A failed check; the message is the feedback the learner reads."""


@dataclass(frozen=True)
class Check:
    exercise: str  # "ex03"
    name: str  # "reparameterize: values with a given eps"
    points: float
    run: Callable[[ModuleType], Any]


class Checklist(list):
    """One exercise's checks, in order; ``@checks.add(name, points)`` appends a check."""

    def __init__(self, exercise: str):
        super().__init__()
        self.exercise = exercise

    def add(self, name: str, points: float) -> Callable:
        """Register the decorated function as a check worth ``points``."""

        def register(fn: Callable[[ModuleType], Any]) -> Callable[[ModuleType], Any]:
            self.append(Check(self.exercise, name, points, fn))
            return fn

        return register


# ---------------------------------------------------------------- calling learner code


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
)


def out_of_memory(e: BaseException) -> str | None:
    """For an allocation that failed: what happened, in words; None for other errors."""
    text = str(e)
    if not (isinstance(e, MemoryError) or "can't allocate memory" in text.lower()):
        return None
    asked = re.search(r"allocate (\d+) bytes", text)
    size = f" (one tensor of {int(asked.group(1)) / 2**30:.2g} GiB)" if asked else ""
    limit = f"{MEMORY_LIMIT_GB:g} GiB" if MEMORY_LIMIT_GB else "the machine's memory"
    return (
        f"ran out of memory{size}: more than grading allows ({limit}). Is a tensor far "
        "bigger than the exercise needs, or are results kept in a list on every iteration?"
    )


def hint_for(text: str) -> str:
    """The hint added to an exception's feedback: what the error usually means here."""
    return next((h for key, h in EXCEPTION_HINTS if key in text.lower()), "")


def learner_function(module: ModuleType, name: str) -> Callable:
    """The learner's function ``name``, wrapped so that whatever it raises becomes a Mistake."""
    fn = getattr(module, name, None)
    if fn is None:
        raise Mistake(f"`{name}` is missing from your file: keep the function and its name.")
    if not callable(fn):
        raise Mistake(f"`{name}` should be a function, but it is {describe(fn)}.")

    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NotImplementedError:
            raise Mistake(
                f"`{name}` is not implemented yet (it raises NotImplementedError)."
            ) from None
        except SystemExit as e:
            raise Mistake(
                f"`{name}` called sys.exit({e.code!r}); return a value instead."
            ) from None
        except RecursionError:
            raise Mistake(f"`{name}` recursed without end (RecursionError).") from None
        except BaseException as e:  # the learner's bug, reported in words
            memory = out_of_memory(e)
            if memory:
                raise Mistake(f"`{name}` {memory}") from None
            text = str(e)
            raise Mistake(
                f"`{name}` raised {type(e).__name__}: {shorten(text)}{hint_for(text)}"
            ) from None

    return call


def describe(value: Any) -> str:
    """A short description of a value for feedback: 'a list', 'a float32 tensor of shape (3,)'."""
    if isinstance(value, torch.Tensor):
        return f"a {str(value.dtype).replace('torch.', '')} tensor of shape {tuple(value.shape)}"
    if value is None:
        return "None (is a `return` missing?)"
    article = "an" if type(value).__name__[0] in "aeiou" else "a"
    return f"{article} {type(value).__name__}"


def as_tensor(value: Any, what: str) -> torch.Tensor:
    """Return value if it is a tensor, else raise a Mistake saying what came back instead."""
    if isinstance(value, torch.Tensor):
        return value
    extra = ""
    if type(value).__module__ == "numpy":
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
    if type(value).__module__ == "numpy" and getattr(value, "size", 0) == 1:
        return float(value)
    raise Mistake(f"{what} should be a number, but your function returned {describe(value)}.")


# ---------------------------------------------------------------- comparing with the reference


def tolerances(dtype: torch.dtype) -> tuple[float, float]:
    """(rtol, atol) for comparing results of this dtype."""
    if dtype == torch.float64:  # loose enough for a float32 constant such as torch.linspace
        return 1e-6, 1e-8
    if dtype in (torch.float16, torch.bfloat16):
        return 1e-2, 1e-3
    return 1e-4, 1e-5


def close(got: torch.Tensor, want: torch.Tensor) -> bool:
    """Same shape and values within the tolerance of ``want``'s dtype (NaN matches NaN)."""
    if not isinstance(got, torch.Tensor) or got.shape != want.shape:
        return False
    rtol, atol = tolerances(want.dtype)
    got64, want64 = got.detach().double().cpu(), want.detach().double().cpu()
    return bool(torch.allclose(got64, want64, rtol=rtol, atol=atol, equal_nan=True))


Variants = Iterable[tuple[str, "torch.Tensor | Callable[[], torch.Tensor]"]]


def matching_variant(got: torch.Tensor, variants: Variants) -> str | None:
    """The feedback of the first variant that ``got`` matches, or None."""
    for message, variant in variants:
        try:
            value = variant() if callable(variant) else variant
        except Exception:  # a variant that cannot be computed here matches nothing
            continue
        if isinstance(value, torch.Tensor) and close(got, value.to(got.dtype)):
            return message
    return None


def expect_close(
    got: Any,
    want: torch.Tensor,
    *,
    what: str,
    case: str = "",
    variants: Variants = (),
    hint: str = "",
) -> torch.Tensor:
    """Raise a Mistake unless ``got`` equals ``want`` within tolerance; name the known mistake.

    Args:
        got: the learner's result.
        want: the reference result.
        what: how the feedback names the result ("reparameterize's z").
        case: the input, in words ("for mu of shape (1, 1)").
        variants: (feedback, known-wrong result) pairs, tried in order; a callable is
            evaluated only when needed.
        hint: added to the generic feedback when no variant matches.

    Returns:
        got, as a tensor.
    """
    got = as_tensor(got, what)
    at = f" {case}" if case else ""
    variants = list(variants)
    if got.shape != want.shape:
        message = matching_variant(got, variants)
        if message:
            raise Mistake(message)
        raise Mistake(
            f"{what} has shape {tuple(got.shape)}{at}; expected {tuple(want.shape)}."
            + (f" {hint}" if hint else "")
        )
    if close(got, want):
        if got.dtype != want.dtype:
            raise Mistake(
                f"{what} has dtype {str(got.dtype).replace('torch.', '')}{at}; keep the inputs' "
                f"dtype ({str(want.dtype).replace('torch.', '')})."
            )
        return got
    message = matching_variant(got, variants)
    if message:
        raise Mistake(message)
    got64, want64 = got.detach().double().cpu(), want.detach().double().cpu()
    if not torch.isfinite(got64).all() and torch.isfinite(want64).all():
        raise Mistake(f"{what} contains inf or NaN{at}, where all values should be finite. {hint}")
    gap = float((got64 - want64).abs().nan_to_num(nan=math.inf).max())
    raise Mistake(
        f"{what} is not right{at} (largest difference {gap:.3g})." + (f" {hint}" if hint else "")
    )


def expect_unchanged(inputs: dict[str, torch.Tensor], copies: dict[str, torch.Tensor], name: str):
    """Raise a Mistake if any input differs from its copy taken before the call."""
    for key, value in inputs.items():
        if not torch.equal(value.detach(), copies[key]):
            raise Mistake(
                f"`{name}` changed its input `{key}` in place; leave inputs as they are and "
                f"build a new tensor (e.g. `{key} * 2`, not `{key} *= 2` or `{key}.exp_()`)."
            )


def snapshot(**tensors: torch.Tensor) -> dict[str, torch.Tensor]:
    """Detached copies of the inputs, to check later that nothing was changed in place."""
    return {k: v.detach().clone() for k, v in tensors.items()}


BLOCKED = (
    "no gradient reaches {names}: {what} is cut off from the graph. torch.no_grad(), "
    ".detach(), .item(), numpy, torch.normal(mean, std) and Distribution.sample() all "
    "block gradients; build the result from the inputs with torch operations."
)


def expect_gradients(
    output: Any, inputs: dict[str, torch.Tensor], want_grads: dict[str, torch.Tensor], *, what: str
) -> None:
    """Backpropagate ``(output * w).sum()`` and compare each input's gradient with the reference's.

    ``inputs`` are leaf tensors with requires_grad; ``want_grads`` come from the same weights w
    applied to the reference (the caller passes them in).
    """
    output = as_tensor(output, what)
    names = " and ".join(f"`{k}`" for k in inputs)
    if not output.requires_grad:
        raise Mistake(BLOCKED.format(names=names, what=what))
    weights = torch.linspace(0.5, 1.5, output.numel(), dtype=output.dtype).reshape(output.shape)
    (output * weights).sum().backward()
    for key, leaf in inputs.items():
        if leaf.grad is None:
            raise Mistake(BLOCKED.format(names=f"`{key}`", what=what))
        if not close(leaf.grad, want_grads[key]):
            raise Mistake(
                f"the gradient of {what} with respect to `{key}` is not right; the values are "
                "probably off too (see the other checks)."
            )


def weighted_grads(fn: Callable[..., torch.Tensor], **inputs: torch.Tensor) -> dict:
    """Reference gradients of ``(fn(**inputs) * w).sum()``, with w as in ``expect_gradients``."""
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in inputs.items()}
    out = fn(**leaves)
    weights = torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype).reshape(out.shape)
    (out * weights).sum().backward()
    return {k: v.grad for k, v in leaves.items()}


def leaves(**tensors: torch.Tensor) -> dict[str, torch.Tensor]:
    """Fresh leaf copies that require grad."""
    return {k: v.detach().clone().requires_grad_(True) for k, v in tensors.items()}


def shape_words(**tensors: torch.Tensor) -> str:
    """'for mu and logvar of shape (1, 1)' style text for feedback."""
    shapes = {tuple(t.shape) for t in tensors.values()}
    names = " and ".join(f"`{k}`" for k in tensors)
    if len(shapes) == 1:
        return f"for {names} of shape {shapes.pop()}"
    return "for " + ", ".join(f"`{k}` of shape {tuple(t.shape)}" for k, t in tensors.items())


def needs_working(ok: bool, name: str) -> None:
    """A Mistake unless ``name`` is right on ordinary inputs (for checks of a property)."""
    if not ok:
        raise Mistake(
            f"first make `{name}` right on ordinary inputs (see its values check); "
            "this check tests a property of a working function."
        )
