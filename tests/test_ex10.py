"""Exercise 10 without the grader: the stub, the reference solution against independent
oracles, and every known mistake in tests/grading/mutants.py caught by the property it breaks.

The grader's checks (vaelab/grading/checks/ex10.py) compare with vaelab's reference; these tests
hold the solution and the known mistakes to torch.distributions and brute force instead.
"""

from __future__ import annotations

import types
from pathlib import Path

import pytest
import torch
from grading.mutants import MUTANTS
from grading.solutions import NAMES, source
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

STUB = Path(__file__).resolve().parent.parent / "exercises" / f"{NAMES['ex10']}.py"


def _module(text: str) -> types.ModuleType:
    module = types.ModuleType("submission")
    exec(compile(text, "<submission>", "exec"), module.__dict__)
    return module


def _expected_mask(k: int, mask_type: str) -> torch.Tensor:
    """Brute force from the definition: entry (r, c) is 1 iff it comes before the centre in
    raster order (or is the centre, for type B)."""
    centre = k // 2
    mask = torch.zeros(k, k)
    for r in range(k):
        for c in range(k):
            before = r * k + c < centre * k + centre
            mask[r, c] = float(before or (mask_type == "B" and (r, c) == (centre, centre)))
    return mask


def _mixture_case(seed: int = 0, batch: int = 6, k: int = 4, d: int = 3):
    g = torch.Generator().manual_seed(seed)
    z = 2 * torch.randn(batch, d, generator=g)
    means = torch.randn(k, d, generator=g)
    logvars = torch.randn(k, d, generator=g) - 0.5
    logits = torch.randn(k, generator=g)
    return z, means, logvars, logits


def _oracle(z, means, logvars, logits):
    components = Independent(Normal(means, torch.exp(0.5 * logvars)), 1)
    return MixtureSameFamily(Categorical(logits=logits), components).log_prob(z)


# Each property a correct submission has; a known mistake breaks at least the one named for it.


def mask_type_a(m) -> bool:
    return all(
        torch.equal(m.causal_mask(k, "A").float(), _expected_mask(k, "A")) for k in (1, 3, 5, 7)
    )


def mask_type_b(m) -> bool:
    return all(
        torch.equal(m.causal_mask(k, "B").float(), _expected_mask(k, "B")) for k in (1, 3, 5, 7)
    )


def mask_dtype(m) -> bool:
    mask = m.causal_mask(3, "A")
    return isinstance(mask, torch.Tensor) and mask.dtype == torch.float32


def mask_refuses_bad_arguments(m) -> bool:
    for args in ((4, "A"), (0, "B"), (3, "C")):
        try:
            m.causal_mask(*args)
        except ValueError:
            continue
        return False
    return True


def mixture_matches_oracle(m) -> bool:
    for seed, k in ((0, 4), (1, 1), (2, 7)):
        z, means, logvars, logits = _mixture_case(seed, k=k)
        got = m.log_mixture_prior(z, means, logvars, logits)
        if got.shape != (len(z),) or not torch.allclose(got, _oracle(z, means, logvars, logits),
                                                        atol=1e-4):  # fmt: skip
            return False
    return True


def mixture_stable_far_away(m) -> bool:
    _, means, logvars, logits = _mixture_case()
    z = torch.full((2, 3), 1000.0)
    z[1] = -60.0
    got = m.log_mixture_prior(z, means, logvars, logits)
    expected = _oracle(z.double(), means.double(), logvars.double(), logits.double())
    return bool(torch.isfinite(got).all()) and torch.allclose(got.double(), expected, rtol=1e-4)


def mixture_shift_invariant(m) -> bool:
    z, means, logvars, logits = _mixture_case()
    a = m.log_mixture_prior(z, means, logvars, logits)
    b = m.log_mixture_prior(z, means, logvars, logits + 3.0)
    return a.shape == b.shape and torch.allclose(a, b, atol=1e-5)


def mixture_gradients(m) -> bool:
    z, means, logvars, logits = _mixture_case()
    params = [t.clone().requires_grad_(True) for t in (means, logvars, logits)]
    m.log_mixture_prior(z, *params).sum().backward()
    return all(p.grad is not None and p.grad.abs().sum() > 0 for p in params)


PROPERTIES = {
    f.__name__: f
    for f in (
        mask_type_a,
        mask_type_b,
        mask_dtype,
        mask_refuses_bad_arguments,
        mixture_matches_oracle,
        mixture_stable_far_away,
        mixture_shift_invariant,
        mixture_gradients,
    )
}

# Which property each known mistake breaks (the check whose feedback names it).
CAUGHT_BY = {
    "mask-a-includes-centre": "mask_type_a",
    "rows-below-open": "mask_type_a",
    "right-of-centre-open": "mask_type_a",
    "column-order": "mask_type_a",
    "types-swapped": "mask_type_b",
    "bool-mask": "mask_dtype",
    "even-kernel-accepted": "mask_refuses_bad_arguments",
    "naive-log-sum-exp": "mixture_stable_far_away",
    "weights-not-normalised": "mixture_shift_invariant",
    "variance-as-std": "mixture_matches_oracle",
    "missing-log-2pi": "mixture_matches_oracle",
    "average-of-log-densities": "mixture_matches_oracle",
    "no-sum-over-dimensions": "mixture_matches_oracle",
}
EX10_MUTANTS = [  # the stretch function's mistakes are tested with every other's (test_grade.py)
    (name, text, feedback)
    for e, name, text, feedback in MUTANTS
    if e == "ex10" and ("def causal_mask(" in text or "def log_mixture_prior(" in text)
]


def _passes(prop, module) -> bool:
    try:
        return bool(prop(module))
    except Exception:  # a crash is a failed property too
        return False


def test_stub_raises_not_implemented_with_a_todo_in_words():
    stub = _module(STUB.read_text())
    text = STUB.read_text()
    assert "``.venv/bin/vaelab grade exercises/ex10_decoders_and_priors.py``" in " ".join(
        text.split()
    )
    with pytest.raises(NotImplementedError, match="TODO"):
        stub.causal_mask(3, "A")
    with pytest.raises(NotImplementedError, match="TODO"):
        stub.log_mixture_prior(*_mixture_case())
    assert "logsumexp(" not in text and "torch.zeros(" not in text  # words, not the code


def test_reference_solution_has_every_property():
    solution = _module(source("ex10"))
    failed = [name for name, prop in PROPERTIES.items() if not _passes(prop, solution)]
    assert failed == []


def test_every_function_has_at_least_three_known_mistakes():
    for function in ("causal_mask", "log_mixture_prior"):
        count = sum(1 for _, text, _ in EX10_MUTANTS if f"def {function}(" in text)
        assert count >= 3, (function, count)
    assert {name for name, _, _ in EX10_MUTANTS} == set(CAUGHT_BY)


@pytest.mark.parametrize(
    "name, text, feedback", EX10_MUTANTS, ids=[name for name, _, _ in EX10_MUTANTS]
)
def test_known_mistake_breaks_the_property_its_feedback_names(name, text, feedback):
    module = _module(source("ex10") + "\n\n" + text)
    assert not _passes(PROPERTIES[CAUGHT_BY[name]], module), name
    assert feedback and not feedback.endswith(".")  # a clause the grader's message can hold
    # every mistake changes one function only: the other keeps all its properties
    other = "log_mixture_prior" if "def causal_mask(" in text else "causal_mask"
    prefix = "mask_" if other == "causal_mask" else "mixture_"
    kept = [p for n, p in PROPERTIES.items() if n.startswith(prefix)]
    assert all(_passes(p, module) for p in kept), (name, other)
