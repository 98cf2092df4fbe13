"""Whether a text hands over a line of a reference solution (tests only; issue 22).

A solution line is a statement of a function in ``tests/grading/solutions.py``. Both it and
the text are cut into Python tokens (names, numbers, strings, operators), normalised so that
spacing, quotes, ``0.5`` and ``.5``, and the module a function comes from (``torch.``,
``F.``, ``math.``) make no difference; the text leaks when it holds, token for token, a
window of ``WINDOW`` consecutive tokens of a solution statement, or a whole statement's
expression of at least ``SHORTEST`` tokens (``torch.exp(0.5 * logvar)`` is a whole
solution). Words and formulas in mathematical notation ("-1/2 (1 + log sigma^2 - mu^2 -
sigma^2)") are not Python token for token and pass; code a learner could paste does not.
"""

from __future__ import annotations

import ast
import re
import textwrap

WINDOW = 8  # consecutive tokens of a solution statement that no text may hold
SHORTEST = 5  # a statement's whole expression this long or longer may not appear either

TOKEN = re.compile(
    r"""(?P<str>'[^'\n]*'|"[^"\n]*")"""
    r"|(?P<num>\d+\.\d*(?:e-?\d+)?|\.\d+(?:e-?\d+)?|\d+(?:e-?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*)"
    r"|(?P<op>\*\*|//|==|!=|<=|>=|->|[-+*/%@<>=(),.\[\]:~&|^])"
)
MODULES = {"torch", "F", "math", "np", "nn", "losses"}


def tokens(text: str) -> list[str]:
    """The normalised tokens of ``text`` (code or prose: prose words are names)."""
    out: list[str] = []
    for match in TOKEN.finditer(text):
        kind, value = match.lastgroup, match.group()
        if kind == "str":
            out.append("'" + value[1:-1] + "'")
        elif kind == "num":
            out.append(repr(float(value)))
        else:
            out.append(value)
    # torch.exp(...) and exp(...) read the same: drop a module name and its dot
    kept: list[str] = []
    for i, tok in enumerate(out):
        if tok in MODULES and i + 1 < len(out) and out[i + 1] == ".":
            continue
        if tok == "." and kept and kept[-1] in MODULES:
            continue
        if tok == "." and i > 0 and out[i - 1] in MODULES:
            continue
        kept.append(tok)
    return kept


def solution_lines(sources: dict[str, str]) -> list[tuple[str, list[str]]]:
    """(statement as written, its tokens) for every statement of every solution function,
    and the expression of each assignment and return on its own."""
    lines = []
    for exercise, source in sources.items():
        tree = ast.parse(textwrap.dedent(source))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, (ast.Assign, ast.AugAssign, ast.Return, ast.Expr)):
                    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                        continue  # a docstring
                    text = ast.unparse(node)
                    lines.append((f"{exercise} {fn.name}: {text}", tokens(text)))
                    value = getattr(node, "value", None)
                    if value is not None:
                        expr = ast.unparse(value)
                        lines.append((f"{exercise} {fn.name}: {expr}", tokens(expr)))
    return lines


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def leaked(text: str, lines: list[tuple[str, list[str]]]) -> str | None:
    """The solution line ``text`` hands over (the statement as written), or None."""
    have = tokens(text)
    for written, toks in lines:
        if len(toks) >= SHORTEST and _contains(have, toks):
            return written
        for i in range(len(toks) - WINDOW + 1):
            if _contains(have, toks[i : i + WINDOW]):
                return f"{written}  (holds: {' '.join(toks[i : i + WINDOW])})"
    return None


def grader_texts(paths) -> list[tuple[str, str]]:
    """Every string the grader's modules can show: (where, text) for each string literal
    that is not a docstring; an f-string's fields read as a placeholder name."""
    found = []
    for path in paths:
        tree = ast.parse(path.read_text())
        docstrings = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body:
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    docstrings.add(id(first.value))
        inside_fstring = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                parts = []
                for value in node.values:
                    inside_fstring.add(id(value))
                    if isinstance(value, ast.Constant):
                        parts.append(str(value.value))
                    else:
                        parts.append(" field ")
                found.append((f"{path.name}:{node.lineno}", "".join(parts)))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and id(node) not in inside_fstring
            ):
                found.append((f"{path.name}:{node.lineno}", node.value))
    return found
