"""The exercise stubs say what to compute in words: no code in a TODO.

Every function of every stub raises ``NotImplementedError("TODO: ...")``; the TODO text (and
any ``# TODO`` comment) is checked for code: calls, library names, operators between names,
attribute access, indexing. The texts the stubs held before issue 18 are all caught, so the
check is not one that passes anything.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

EXERCISES = Path(__file__).resolve().parent.parent / "exercises"
STUBS = sorted(EXERCISES.glob("ex[0-9][0-9]_*.py"))

CODE_LIKE = [
    (re.compile(r"\b(torch|F|np|math|nn|sklearn)\."), "a library's name"),
    (re.compile(r"\b[A-Za-z_]\w*\("), "a call"),
    (re.compile(r"[\w)\]]\s*(\*\*|//|==|!=|<=|>=|[+*/%=<>^@])\s*[\w(]"), "an operator"),
    (re.compile(r"[\w)\]]\s+-\s+[\w(]"), "a minus between names"),
    (re.compile(r"\b[A-Za-z_]\w*\.[A-Za-z_]\w*"), "an attribute"),
    (re.compile(r"\w\[|\[\s*:"), "indexing"),
    (re.compile(r"\b[A-Za-z]\w*_\w+"), "a variable's name"),
]

# The TODOs of the stubs before issue 18 (each handed out the answer): all must be caught.
OLD_TODOS = [
    "TODO: z = model.to_z(model.encoder(x))",
    "TODO: x_logits = model.decoder(z)",
    "TODO: F.binary_cross_entropy_with_logits(..., reduction='none'), summed per image",
    "TODO: h = model.encoder(x); return the two heads' outputs",
    "TODO: sigma = exp(logvar / 2)",
    "TODO: logvar = 2 * log(sigma)",
    "TODO: z = mu + exp(logvar / 2) * eps",
    "TODO: -0.5 * (1 + logvar - mu^2 - exp(logvar)), summed over D",
    "TODO: BCE from logits summed over pixels + beta * KL",
    "TODO: t = torch.linspace(0, 1, num_steps), then the path",
    "TODO: z ~ N(0, I), decode, sigmoid",
    "TODO: variance over examples (dim=0), count those > threshold",
    "TODO: clamp each dimension below at free_bits, then sum over D",
    "TODO: min(1, step / warmup_steps)",
    "TODO: p = (step % period) / period; min(1, p / ratio)",
    "TODO: per-image MSE, then 10 * log10(max_val**2 / mse)",
    "TODO: logsumexp along dim, minus log(K)",
    "TODO: mu from model.encode, decode mu, BCE from logits per image",
    "TODO: 0.5 * (mu^2 + log(2 pi)) summed over the latent dims",
    "TODO: reconstruction score + beta * closed-form KL",
]


def code_in(text: str) -> list[str]:
    """What looks like code in ``text``: (kind: 'the match') for each pattern that matches."""
    found = []
    for pattern, kind in CODE_LIKE:
        match = pattern.search(text)
        if match:
            found.append(f"{kind}: {match.group(0)!r}")
    return found


def todo_texts(path: Path) -> dict[str, str]:
    """Each function's NotImplementedError message, and every '# TODO' comment, of a stub."""
    source = path.read_text()
    texts = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef):
            continue
        raises = [n for n in ast.walk(node) if isinstance(n, ast.Raise)]
        assert raises, f"{path.name}: {node.name} does not raise NotImplementedError"
        call = raises[-1].exc
        assert isinstance(call, ast.Call) and getattr(call.func, "id", "") == (
            "NotImplementedError"
        ), f"{path.name}: {node.name} should raise NotImplementedError('TODO: ...')"
        message = ast.literal_eval(call.args[0])
        texts[node.name] = message
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and "TODO" in token.string:
            texts[f"line {token.start[0]}"] = token.string
    return texts


def test_the_check_catches_the_old_stubs_todos():
    for text in OLD_TODOS:
        assert code_in(text), text


@pytest.mark.parametrize("path", STUBS, ids=[p.stem for p in STUBS])
def test_no_stub_todo_contains_code(path):
    texts = todo_texts(path)
    assert texts, path
    for where, text in texts.items():
        assert text.startswith("TODO: "), (path.name, where, text)
        words = text.removeprefix("TODO: ")
        assert len(words.split()) >= 6, (path.name, where, "say what to compute in words")
        assert not code_in(words), (path.name, where, text, code_in(words))


@pytest.mark.parametrize("path", STUBS, ids=[p.stem for p in STUBS])
def test_every_stub_names_the_lesson_and_how_to_get_a_hint(path):
    doc = ast.get_docstring(ast.parse(path.read_text()))
    number = path.name[2:4]
    assert f"(lesson {number})" in doc, path.name
    assert f'vaelab.grade.hint("ex{number}")' in doc, path.name
