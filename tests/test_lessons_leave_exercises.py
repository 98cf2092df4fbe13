"""No lesson shows the line its exercise asks for (issue 22, item 1).

The reference solutions (``tests/grading/solutions.py``) are parsed, and every statement of
every graded function is turned into a normalised expression tree: variable names are
abstracted (``mu`` and ``out.mu`` are both "a variable"), while constants, the functions
called and the attribute chains they are called through are kept (``torch.exp``,
``model.to_z``, ``reduction="none"``). Spellings that compute the same thing the same way
are made equal: ``torch.sum(a, dim=1)``, ``a.sum(1)`` and ``a.sum(dim=1)``; ``a**2`` and
``a.pow(2)``; ``F`` and ``torch.nn.functional``; the order of the terms of a sum or a
product; ``-0.5 * (1 + a - b)`` and ``0.5 * (b - 1 - a)``. Variables assigned earlier in a
function (or a cell) are substituted where they are used, so a computation split over two
lines matches one written in one.

Every code cell of every lesson (and every fenced code block in its Markdown, and every quiz
option or explanation that is a Python expression) goes through the same normalisation, and
a lesson fails when one of its expressions equals a solution's expression:

- of at least ``MIN_NODES`` nodes, anywhere in the course: a multi-step computation such as
  the closed-form KL or the summed BCE;
- of any size when it is the whole value of a statement of the solution, in the exercise's
  own lesson (``model.to_z(model.encoder(x))`` in lesson 01). Later lessons may use a
  one-operation formula as common knowledge (sigma = ``torch.exp(0.5 * logvar)``).

Calls to vaelab's functions (``losses.kl_divergence``) and oracle checks
(``torch.distributions.kl_divergence``, Monte-Carlo estimates) are different trees and pass.
Nothing is executed: the test reads source text only.

One lesson: ``pytest tests/test_lessons_leave_exercises.py -k 04_elbo``; or list what a notebook
reproduces with ``python tests/test_lessons_leave_exercises.py notebooks/04_elbo.ipynb``.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from grading import solutions  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
QUIZ_BANKS = sorted((ROOT / "vaelab" / "quizzes").glob("lesson[0-9][0-9].py"))
MIN_NODES = 9  # a computation this large is never common knowledge
MIN_ANSWER_NODES = 3  # smaller answers ("a variable", "a constant") match everything

# Names that stand for modules: kept, so that torch.exp differs from np.exp.
MODULES = {
    "torch": "torch",
    "F": "torch.nn.functional",
    "nn": "torch.nn",
    "math": "math",
    "np": "numpy",
    "numpy": "numpy",
}
# torch.NAME(a, ...) is the method a.NAME(...): both spellings compute the same thing.
TENSOR_FUNCTIONS = {
    "abs", "clamp", "exp", "expm1", "flatten", "log", "log1p", "logsumexp", "max", "mean",
    "min", "pow", "reshape", "sigmoid", "sqrt", "square", "sum", "tanh", "var", "std", "view",
    "logsigmoid", "softplus",
}  # fmt: skip
# The first positional argument of these methods is a dimension.
DIM_FIRST = {"sum", "mean", "logsumexp", "var", "std", "max", "min", "softmax", "log_softmax"}
POSITIONAL = {"flatten": ("start_dim", "end_dim"), "pow": ("exponent",), "clamp": ("min", "max")}
# Methods that move or copy data without computing anything: a.to(device) is a.
TRANSPARENT = {"to", "cpu", "cuda", "detach", "float", "double", "clone", "contiguous"}
# Idioms that solutions share with any honest code: never a pattern on their own.
IDIOMS = (
    "a.flatten(1).sum(1)",  # a per-image sum of any per-pixel quantity
    "(a - b).pow(2).flatten(1)",  # a squared error per pixel
    "torch.randn(a, b, generator=c, dtype=d.dtype)",  # noise
    "torch.linspace(0, 1, a, dtype=b.dtype, device=b.device)",  # a grid of positions
)


COMPUTING = {"call", "sum", "product", "binop", "unary"}  # nodes that compute something


def _const(value):
    if isinstance(value, bool) or value is None:
        return ("const", value)
    if isinstance(value, (int, float)):
        return ("const", float(value))
    return ("const", value)


def _is_const(node) -> bool:
    return isinstance(node, tuple) and node[0] == "const" and isinstance(node[1], float)


class Normaliser:
    """Turns Python expressions into hashable trees in which equal computations are equal.

    ``env`` maps a variable to the tree of the expression last assigned to it, so that later
    uses see the computation rather than the name (``substitute=False`` keeps names opaque).
    """

    def __init__(self, substitute: bool = True):
        self.env: dict[str, tuple] = {}
        self.substitute = substitute

    # -- names and attributes ---------------------------------------------------------
    def _dotted(self, node) -> str | None:
        """The module path of an attribute chain on a module name (torch.nn.functional.x)."""
        if isinstance(node, ast.Name) and node.id in MODULES:
            return MODULES[node.id]
        if isinstance(node, ast.Attribute):
            base = self._dotted(node.value)
            if base is not None:
                return f"{base}.{node.attr}"
        return None

    def expr(self, node) -> tuple:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            return ("opaque", type(node).__name__)
        return method(node)

    def _Name(self, node):
        if node.id in MODULES:
            return ("module", MODULES[node.id])
        if self.substitute and node.id in self.env:
            return self.env[node.id]
        return ("var",)

    def _Attribute(self, node):
        dotted = self._dotted(node)
        if dotted is not None:
            return ("module", dotted)
        if node.attr in ("shape", "dtype", "device", "ndim", "T"):
            return ("attr", self.expr(node.value), node.attr)
        return ("var",)  # out.mu, model.latent_dim: data, whatever it is called

    def _Constant(self, node):
        return _const(node.value)

    def _Starred(self, node):
        return ("star", self.expr(node.value))

    def _Tuple(self, node):
        return ("tuple", tuple(self.expr(e) for e in node.elts))

    _List = _Tuple

    def _Subscript(self, node):
        return ("index", self.expr(node.value), self.expr(node.slice))

    def _Slice(self, node):
        parts = (node.lower, node.upper, node.step)
        return ("slice", tuple(None if p is None else self.expr(p) for p in parts))

    def _Compare(self, node):
        ops = tuple(type(o).__name__ for o in node.ops)
        return ("compare", self.expr(node.left), ops, tuple(self.expr(c) for c in node.comparators))

    def _IfExp(self, node):
        return ("ifexp", self.expr(node.test), self.expr(node.body), self.expr(node.orelse))

    def _BoolOp(self, node):
        return ("boolop", type(node.op).__name__, tuple(self.expr(v) for v in node.values))

    # -- arithmetic: sums and products as sorted multisets ---------------------------------
    def _terms(self, node, sign, out):
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            self._terms(node.left, sign, out)
            self._terms(node.right, sign if isinstance(node.op, ast.Add) else -sign, out)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            self._terms(node.operand, -sign, out)
        else:
            out.append((sign, self.expr(node)))

    def _factors(self, node, out):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            self._factors(node.left, out)
            self._factors(node.right, out)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            out.append(_const(-1.0))
            self._factors(node.operand, out)
        else:
            out.append(self.expr(node))

    @staticmethod
    def _sum(terms):
        constant = sum(s * t[1] for s, t in terms if _is_const(t))
        rest = [(s, t) for s, t in terms if not _is_const(t)]
        if constant:
            rest.append((1, _const(constant)))
        if len(rest) == 1 and rest[0][0] == 1:
            return rest[0][1]
        return ("sum", tuple(sorted(rest, key=repr)))

    @classmethod
    def _negated(cls, tree):
        """-tree written without the minus sign, for a sum or a sum reduced by sum/mean."""
        if tree[0] == "sum":
            terms = [(1, _const(-t[1])) if _is_const(t) else (-s, t) for s, t in tree[1]]
            return ("sum", tuple(sorted(terms, key=repr)))
        if tree[0] == "call" and tree[1] in (("method", "sum"), ("method", "mean")):
            inner = cls._negated(tree[2]) if tree[2] is not None else None
            if inner is not None:
                return (tree[0], tree[1], inner, tree[3], tree[4])
        return None

    @classmethod
    def _product(cls, factors):
        constant, rest = 1.0, []
        for f in factors:
            if _is_const(f):
                constant *= f[1]
            else:
                rest.append(f)
        negatable = [f for f in rest if cls._negated(f) is not None]
        if constant < 0 and len(negatable) == 1:  # -0.5 * (a - b) is 0.5 * (b - a)
            rest[rest.index(negatable[0])] = cls._negated(negatable[0])
            constant = -constant
        if constant != 1.0:
            rest.append(_const(constant))
        if len(rest) == 1:
            return rest[0]
        return ("product", tuple(sorted(rest, key=repr)))

    def _BinOp(self, node):
        if isinstance(node.op, (ast.Add, ast.Sub)):
            terms = []
            self._terms(node, 1, terms)
            return self._sum(terms)
        if isinstance(node.op, ast.Mult):
            factors = []
            self._factors(node, factors)
            return self._product(factors)
        return ("binop", type(node.op).__name__, self.expr(node.left), self.expr(node.right))

    def _UnaryOp(self, node):
        if isinstance(node.op, ast.USub):
            operand = self.expr(node.operand)
            if _is_const(operand):
                return _const(-operand[1])
            return self._product([_const(-1.0), operand])
        return ("unary", type(node.op).__name__, self.expr(node.operand))

    # -- calls ---------------------------------------------------------------------------
    def _Call(self, node):
        args = list(node.args)
        keywords = {k.arg: k.value for k in node.keywords if k.arg is not None}
        func = node.func
        receiver = None
        if isinstance(func, ast.Attribute):
            dotted = self._dotted(func)
            if dotted is not None:  # torch.exp(a) -> a.exp()
                name = dotted.rsplit(".", 1)[-1]
                if dotted in (f"torch.{name}", f"torch.nn.functional.{name}") and (
                    name in TENSOR_FUNCTIONS and args
                ):
                    receiver, args, callee = args[0], args[1:], ("method", name)
                else:
                    callee = ("function", dotted)
            else:
                receiver, callee = func.value, ("method", func.attr)
        elif isinstance(func, ast.Name):
            callee = ("function", MODULES.get(func.id, func.id))
        else:
            callee = ("call-of", self.expr(func))
        name = callee[1].rsplit(".", 1)[-1] if isinstance(callee[1], str) else ""
        if callee[0] == "method" and name in TRANSPARENT:
            return self.expr(receiver)
        if callee[0] == "method" and name == "pow" and len(args) == 1 and not keywords:
            return ("binop", "Pow", self.expr(receiver), self.expr(args[0]))
        if callee[0] == "method" and name in DIM_FIRST and args:
            keywords.setdefault("dim", args.pop(0))
        dim = keywords.get("dim")
        if isinstance(dim, ast.UnaryOp) and isinstance(dim.operand, ast.Constant):
            if dim.operand.value == 1:  # the last of (B, D): dim=-1 is dim=1
                keywords["dim"] = ast.Constant(1)
        for param, value in zip(POSITIONAL.get(name, ()), list(args), strict=False):
            keywords.setdefault(param, value)
            args.pop(0)
        return (
            "call",
            callee,
            None if receiver is None else self.expr(receiver),
            tuple(self.expr(a) for a in args),
            tuple(sorted((k, self.expr(v)) for k, v in keywords.items())),
        )

    # -- statements ------------------------------------------------------------------------
    def assign(self, target, tree) -> None:
        if isinstance(target, ast.Name):
            computes = any(t[0] in COMPUTING for t in subtrees(tree))
            if computes:
                self.env[target.id] = tree
            else:  # x = x_test[:8]: data, not a computation; it stays "a variable"
                self.env.pop(target.id, None)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:  # tuple unpacking: the parts stay opaque
                self.assign_opaque(element)

    def assign_opaque(self, target) -> None:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                self.env.pop(node.id, None)


def size(tree) -> int:
    """The number of expression nodes in ``tree`` (a call, its callee, each argument...)."""
    if not isinstance(tree, tuple):
        return 0
    own = 1 if tree and isinstance(tree[0], str) else 0
    return own + sum(size(t) for t in tree)


def has_call(tree) -> bool:
    return any(t[0] == "call" for t in subtrees(tree))


def subtrees(tree):
    """Every expression node inside ``tree`` (tuples tagged with a string), itself included."""
    if isinstance(tree, tuple):
        if tree and isinstance(tree[0], str):
            yield tree
        for part in tree:
            yield from subtrees(part)


@dataclass(frozen=True)
class Found:
    """One expression of a source: its tree, and the statement it came from."""

    tree: tuple
    line: int
    text: str


def expressions(source: str, *, substitute: bool) -> list[Found]:
    """The value of every statement (and the condition of every ``if`` and ``while``) of
    ``source``, in order, after normalisation."""
    module = ast.parse(source)
    lines = source.splitlines()
    norm = Normaliser(substitute=substitute)
    found = []

    def text(node) -> str:
        segment = ast.get_source_segment(source, node)
        if segment is None:
            return lines[node.lineno - 1].strip()
        return " ".join(segment.split())

    def visit(statements):
        for stmt in statements:
            value = None
            if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                value = stmt.value
            elif isinstance(stmt, (ast.Return, ast.Expr)):
                value = stmt.value
            elif isinstance(stmt, (ast.If, ast.While)):  # a condition computes too
                value = stmt.test
            if value is not None:
                if isinstance(stmt, ast.AugAssign):
                    tree = norm.expr(ast.BinOp(stmt.target, stmt.op, value))
                else:
                    tree = norm.expr(value)
                found.append(Found(tree, stmt.lineno, text(stmt)))
                if isinstance(stmt, ast.Assign):
                    targets = stmt.targets
                elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
                    targets = [stmt.target]
                else:
                    targets = []
                for target in targets:
                    norm.assign(target, tree)
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list):
                    if isinstance(stmt, (ast.For, ast.AsyncFor)):
                        norm.assign_opaque(stmt.target)
                    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        for arg in ast.walk(stmt.args):
                            if isinstance(arg, ast.arg):
                                norm.env.pop(arg.arg, None)
                    visit([s for s in inner if isinstance(s, ast.stmt)])
            if isinstance(stmt, (ast.With, ast.AsyncWith)):
                for item in stmt.items:
                    if item.optional_vars is not None:
                        norm.assign_opaque(item.optional_vars)
            if isinstance(stmt, ast.ExceptHandler):
                visit(stmt.body)

    visit(module.body)
    return found


# -- the solutions -------------------------------------------------------------------------
@dataclass(frozen=True)
class Pattern:
    exercise: str  # "ex04"
    function: str  # "negative_elbo"
    lesson: int  # 4
    tree: tuple
    text: str  # the solution's statement
    answer: bool  # the whole value of a statement (matched at any size in its own lesson)


def solution_patterns() -> list[Pattern]:
    """What each graded function computes, as trees: its large subexpressions and its result."""
    patterns = {}
    idioms = {Normaliser().expr(ast.parse(idiom, mode="eval").body) for idiom in IDIOMS}

    def add(pattern: Pattern) -> None:
        if pattern.tree in idioms:
            return
        key = (pattern.exercise, pattern.function, pattern.tree)
        if key not in patterns or (pattern.answer and not patterns[key].answer):
            patterns[key] = pattern

    for exercise, source in solutions.SOLUTIONS.items():
        lesson = int(exercise[2:])
        for func in ast.parse(source).body:
            if not isinstance(func, ast.FunctionDef):
                continue
            body = ast.get_source_segment(source, func)
            body = "\n".join(line[4:] for line in body.splitlines()[1:])  # the body, dedented
            for substitute in (True, False):
                for found in expressions(body, substitute=substitute):
                    for tree in subtrees(found.tree):
                        if size(tree) >= MIN_NODES and has_call(tree):
                            add(Pattern(exercise, func.name, lesson, tree, found.text, False))
                    if not (substitute and found.text.startswith("return ")):
                        continue
                    # The result, as computed from the arguments: the answer itself
                    results = [found.tree]
                    if found.tree[0] == "tuple":
                        results += list(found.tree[1])
                    for tree in results:
                        if size(tree) >= MIN_ANSWER_NODES and has_call(tree):
                            add(Pattern(exercise, func.name, lesson, tree, found.text, True))
    return list(patterns.values())


PATTERNS = solution_patterns()
BY_TREE: dict[tuple, list[Pattern]] = {}
for _pattern in PATTERNS:
    BY_TREE.setdefault(_pattern.tree, []).append(_pattern)


def matches(tree: tuple, lesson: int) -> list[Pattern]:
    """The solution patterns that ``tree`` (from lesson ``lesson``) reproduces."""
    return [p for p in BY_TREE.get(tree, ()) if not p.answer or p.lesson == lesson]


# -- the lessons ----------------------------------------------------------------------------
def _python(source: str) -> str:
    """A cell's source with IPython's magics and shell escapes turned into comments."""
    return "\n".join(
        "#" + line if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )


FENCE = re.compile(r"```(?:python|py)?\n(.*?)```", re.S)


def lesson_sources(path: Path) -> list[tuple[str, str]]:
    """(where, source) for every code cell and every fenced code block of a notebook."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    sources = []
    for index, cell in enumerate(nb["cells"]):
        text = "".join(cell["source"])
        where = f"{path.name} cell {index} (id {cell.get('id', '?')})"
        if cell["cell_type"] == "code":
            sources.append((where, _python(text)))
        elif cell["cell_type"] == "markdown":
            sources.extend((f"{where}, code block", block) for block in FENCE.findall(text))
    return sources


def quiz_sources(path: Path) -> list[tuple[str, str]]:
    """(where, text) for every option and explanation of a quiz bank that parses as Python."""
    module = ast.parse(path.read_text(encoding="utf-8"))
    sources = []
    for node in ast.walk(module):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.strip()
            try:
                ast.parse(text, mode="eval")
            except SyntaxError:
                continue
            if "(" in text:  # a call: code, not a word
                sources.append((f"{path.name} line {node.lineno}", text))
    return sources


def offences(where: str, source: str, lesson: int) -> list[str]:
    """One message per statement and graded function that the statement reproduces.

    A match is reported at the first statement where it appears, not again at every later
    statement that uses its variable.
    """
    try:
        found = expressions(source, substitute=True) + expressions(source, substitute=False)
    except SyntaxError:
        return []
    first: dict[tuple, Found] = {}  # (exercise, function, tree) -> first statement
    for item in sorted(found, key=lambda f: f.line):
        for tree in subtrees(item.tree):
            for pattern in matches(tree, lesson):
                first.setdefault((pattern.exercise, pattern.function, tree), (item, pattern))
    best: dict[tuple, tuple] = {}  # (line, exercise, function) -> the largest match
    for (exercise, function, tree), (item, pattern) in first.items():
        key = (item.line, exercise, function)
        if key not in best or size(tree) > size(best[key][2]):
            best[key] = (item, pattern, tree)
    return [
        f"{where}, line {item.line}: `{item.text}` reproduces {pattern.exercise}."
        f"{pattern.function} (the solution's `{pattern.text}`)"
        for _, (item, pattern, _tree) in sorted(best.items())
    ]


def _lesson_number(path: Path) -> int:
    return int(re.search(r"(\d\d)", path.name).group(1))


# -- tests of the method itself -------------------------------------------------------------
LESSON_04_ON_MAIN = """\
x = x_test[:8].to(device)
bce = F.binary_cross_entropy_with_logits(out.x_logits, x, reduction="none")  # (B, 1, 28, 28)
recon = bce.flatten(1).sum(dim=1)  # (B,) -log p(x|z): summed over pixels
kl = -0.5 * torch.sum(1 + out.logvar - out.mu**2 - out.logvar.exp(), dim=1)  # (B,)
neg_elbo = recon + kl  # (B,)
"""


def test_the_section_2_cell_of_lesson_04_as_it_was_is_caught():
    found = offences("04_elbo.ipynb cell 4", LESSON_04_ON_MAIN, 4)
    named = " ".join(found)
    assert "ex04.kl_divergence" in named and "ex04.negative_elbo" in named
    assert "line 3: `recon = bce.flatten(1).sum(dim=1)` reproduces ex01.reconstruction_loss" in (
        named
    )
    assert "line 4: `kl = -0.5 * torch.sum(" in named


@pytest.mark.parametrize(
    "source",
    [
        "kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)",  # the terms reordered
        "kl = -0.5 * (1 + logvar - mu**2 - torch.exp(logvar)).sum(dim=-1)",
        "z = mu + eps * torch.exp(0.5 * logvar)",
        "p = F.binary_cross_entropy_with_logits(a, b, reduction='none')\nr = p.flatten(1).sum(1)",
        "while (scores > t).sum() <= fpr * n + 1e-9:\n    t = t - 1",  # a condition
    ],
)
def test_other_spellings_of_a_solution_are_caught(source):
    assert offences("cell", source, 99)


@pytest.mark.parametrize(
    "source",
    [
        "kl = losses.kl_divergence(mu, logvar, reduction='none')",
        "kl = torch.distributions.kl_divergence(Normal(mu, std), Normal(0.0, 1.0)).sum(dim=1)",
        "z = losses.reparameterize(mu, logvar, eps=eps)",
        "x_hat = torch.sigmoid(model.decode(z))",
        "mse = (x - x_hat).pow(2).flatten(1).sum(1)",
        "sigma = torch.exp(0.5 * logvar)",  # a one-operation formula, outside lesson 02
        "log_ratio = q.log_prob(z).sum(-1) - Normal(0.0, 1.0).log_prob(z).sum(-1)",
    ],
)
def test_honest_uses_pass(source):
    assert not offences("cell", source, 9)


def test_small_answers_are_caught_in_their_own_lesson_only():
    assert offences("cell", "sigma = torch.exp(0.5 * logvar)", 2)
    assert offences("cell", "h = model.encoder(x)\nz = model.to_z(h)", 1)
    assert not offences("cell", "h = model.encoder(x)\nz = model.to_z(h)", 5)


def test_every_graded_function_has_a_pattern():
    graded = {
        (exercise, node.name)
        for exercise, source in solutions.SOLUTIONS.items()
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef)
    }
    covered = {(p.exercise, p.function) for p in PATTERNS}
    assert graded == covered, graded - covered


# -- the course -----------------------------------------------------------------------------
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_no_lesson_cell_reproduces_a_graded_function(path):
    lesson = _lesson_number(path)
    found = [m for where, src in lesson_sources(path) for m in offences(where, src, lesson)]
    assert not found, (
        "a lesson cell computes what a graded exercise asks the learner to write; call "
        "vaelab's function instead (and check it against an independent oracle), or lead up "
        "to the exercise in words and maths:\n" + "\n".join(found)
    )


@pytest.mark.parametrize("path", QUIZ_BANKS, ids=[p.name for p in QUIZ_BANKS])
def test_no_quiz_shows_a_graded_function(path):
    lesson = _lesson_number(path)
    found = [m for where, src in quiz_sources(path) for m in offences(where, src, lesson)]
    assert not found, "a quiz option or explanation shows an exercise's answer:\n" + "\n".join(
        found
    )


if __name__ == "__main__":
    for name in sys.argv[1:] or map(str, NOTEBOOKS):
        path = Path(name)
        found = [
            m
            for where, src in lesson_sources(path)
            for m in offences(where, src, _lesson_number(path))
        ]
        print("\n".join(found) or f"{path.name}: nothing reproduces a graded function")
