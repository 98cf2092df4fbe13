"""The claim ledger: every sentence that reports what a run shows is asserted by that run.

In a lesson's prose, a sentence that states a measured fact ends with an HTML comment that
names its claim (invisible in JupyterLab, turned into a mark with the measured value in the
book)::

    While the VAE trains, the KL rises over the epochs.<!-- claim: 04.kl_rises -->

and a code cell of the same lesson asserts it by name::

    claims.hold("04.kl_rises", kl[-1] > kl[0], measured=f"KL {kl[0]:.1f} -> {kl[-1]:.1f} nats")
    claims.above("07.psnr_gain", psnr_10 - psnr_2, 1.0, unit="dB")

A claim that only the full run shows is asserted with ``full_only=True``: in a FAST run it is
recorded as not checked by this run, never as held. A quiz question that states a measured
fact lists the claims it rests on (``"claims": ["05.slerp_longer"]`` in its dict).
``claims.report(NN)`` at the end of a lesson's checks shows every claim the run checked, with
its measured value; the book reads that table to mark the sentences.

The measured text is plain words and numbers (no ``$...$`` or backslashes): the book shows it
in a tooltip, where no LaTeX is typeset. ``tests/claims_ledger.py`` checks, without running
anything, that every marked sentence is asserted and every assertion marked;
``make test-full`` runs the lessons in full and fails on any claim that does not hold.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import asdict, dataclass

import vaelab

__all__ = ["Claim", "ClaimFailed", "Report", "above", "below", "hold", "ledger", "report", "reset"]

ID_PATTERN = re.compile(r"^\d\d\.[a-z0-9_]+$")  # "06.warmup_rescues"
MIME_TYPE = "application/vnd.vaelab.claims+json"  # the report's machine-readable output
# The mark at the end of a sentence in a lesson's Markdown: "<!-- claim: 04.kl_rises -->".
COMMENT = re.compile(r"<!--\s*claim\s*:\s*(?P<id>[^\s>]*?)\s*-->")
SKIPPED = "not checked by this quick run"  # how a full-run-only claim reads in a FAST run


class ClaimFailed(AssertionError):
    """A claim the lesson's prose makes did not hold in this run."""


@dataclass(frozen=True)
class Claim:
    """One claim as this run measured it."""

    id: str
    held: bool | None  # None: not checked by this run (a full-run claim in a FAST run)
    measured: str  # what was measured, in words and numbers: "KL 7.3 -> 22.6 nats"
    margin: float | None = None  # how far from failing, as a fraction (0.2 = 20%); None: a yes/no
    full_only: bool = False


_LEDGER: dict[str, Claim] = {}


def _record(claim: Claim) -> Claim:
    _LEDGER[claim.id] = claim
    if claim.held is False:
        raise ClaimFailed(f"claim {claim.id} does not hold in this run: {claim.measured}")
    return claim


def _check_id(claim_id: str) -> None:
    if not isinstance(claim_id, str) or not ID_PATTERN.match(claim_id):
        raise ValueError(
            f"a claim id is the lesson number, a dot and a snake_case name, such as "
            f"'06.warmup_rescues'; got {claim_id!r}"
        )


def _check_text(claim_id: str, text: str, what: str) -> None:
    if "$" in text or "\\" in text:
        raise ValueError(
            f"claim {claim_id}: write the {what} as plain text ('beta 4', 'KL 7.3 nats'), "
            f"without $...$ or backslashes: the book shows it in a tooltip, where no LaTeX is "
            f"typeset; got {text!r}"
        )


def _skipped(claim_id: str, measured: str) -> Claim:
    return Claim(claim_id, None, f"{SKIPPED} ({measured})", None, True)


def hold(claim_id: str, condition: bool, *, measured: str, full_only: bool = False) -> Claim:
    """Assert a yes/no claim: ``condition`` must be true, ``measured`` says what was seen.

    Args:
        claim_id: "NN.name", the id the sentence in lesson NN carries.
        condition: the claim, computed from this run's numbers.
        measured: the numbers behind it, in words ("beta 4: 7 active units of 10").
        full_only: the claim holds in the full run only; a FAST run records it as not checked.

    Raises:
        ClaimFailed: the claim does not hold (the lesson's checks fail, naming it).
    """
    _check_id(claim_id)
    _check_text(claim_id, measured, "measured value")
    if full_only and vaelab.fast_mode():
        return _record(_skipped(claim_id, measured))
    return _record(Claim(claim_id, bool(condition), measured, None, full_only))


def _compare(claim_id, value, bound, unit, full_only, sign, relation, what) -> Claim:
    _check_id(claim_id)
    _check_text(claim_id, unit, "unit")
    _check_text(claim_id, what, "description")
    value, bound = float(value), float(bound)
    unit_text = f" {unit}" if unit else ""
    label = f"{what}: " if what else ""
    measured = f"{label}{value:.4g}{unit_text} ({relation} {bound:.4g}{unit_text})"
    if full_only and vaelab.fast_mode():
        return _record(_skipped(claim_id, measured))
    distance = sign * (value - bound)
    scale = max(abs(bound), abs(value), 1e-12)
    held = math.isfinite(value) and distance > 0
    margin = distance / scale if math.isfinite(value) else -math.inf
    return _record(Claim(claim_id, held, measured, margin, full_only))


def above(
    claim_id: str,
    value: float,
    bound: float,
    *,
    unit: str = "",
    what: str = "",
    full_only: bool = False,
) -> Claim:
    """Assert ``value > bound``; the margin is ``(value - bound) / max(|value|, |bound|)``.

    Write a comparison of two measurements as their difference against 0 only when the
    difference itself is what the sentence claims; otherwise compare the value with the
    bound the sentence states ("more than 1 dB better": ``above(id, gain, 1.0, unit="dB")``).
    ``what`` names the value in the report and the book ("PSNR gain from 2 to 10 dims").
    """
    return _compare(claim_id, value, bound, unit, full_only, +1, "must be above", what)


def below(
    claim_id: str,
    value: float,
    bound: float,
    *,
    unit: str = "",
    what: str = "",
    full_only: bool = False,
) -> Claim:
    """Assert ``value < bound``; the margin is ``(bound - value) / max(|value|, |bound|)``."""
    return _compare(claim_id, value, bound, unit, full_only, -1, "must be below", what)


def ledger() -> dict[str, Claim]:
    """The claims this kernel has checked so far, by id."""
    return dict(_LEDGER)


def reset() -> None:
    """Forget the claims checked so far (a lesson starts with an empty ledger)."""
    _LEDGER.clear()


class Report:
    """The claims a run checked, as a table in Jupyter and as data for the book."""

    def __init__(self, claims: list[Claim]):
        self.claims = claims

    def _status(self, claim: Claim) -> str:
        if claim.held is None:
            return "full run only"
        return "holds" if claim.held else "does NOT hold"

    def __repr__(self) -> str:
        lines = [f"{len(self.claims)} claims checked by this run:"]
        for c in self.claims:
            margin = "" if c.margin is None else f" (margin {c.margin:.0%})"
            lines.append(f"  {c.id:<32} {self._status(c):<14} {c.measured}{margin}")
        return "\n".join(lines)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        rows = "".join(
            f"<tr><td><code>{html.escape(c.id)}</code></td><td>{self._status(c)}</td>"
            f"<td>{html.escape(c.measured)}</td>"
            f"<td>{'' if c.margin is None else f'{c.margin:.0%}'}</td></tr>"
            for c in self.claims
        )
        table = (
            '<table class="vaelab-claims"><thead><tr><th>claim</th><th>status</th>'
            f"<th>measured in this run</th><th>margin</th></tr></thead><tbody>{rows}</tbody>"
            "</table>"
        )
        return {
            "text/plain": repr(self),
            "text/html": table,
            MIME_TYPE: {"fast": vaelab.fast_mode(), "claims": [_as_json(c) for c in self.claims]},
        }


def _as_json(claim: Claim) -> dict:
    """The claim as JSON can carry it (a margin of -inf, from a NaN value, becomes None)."""
    data = asdict(claim)
    if data["margin"] is not None and not math.isfinite(data["margin"]):
        data["margin"] = None
    return data


def report(lesson: str | int | None = None) -> Report:
    """The claims checked so far (those of ``lesson`` only, when given), for display."""
    prefix = None if lesson is None else f"{int(lesson):02d}."
    chosen = [c for c in _LEDGER.values() if prefix is None or c.id.startswith(prefix)]
    return Report(sorted(chosen, key=lambda c: c.id))
