"""Losses written as formulas: safe parsing, symbolic derivatives and vectorised evaluation.

A formula such as ``x**2 - y**2 + 0.1*sin(x*y)`` goes through three stages:

1. :func:`parse_expression` checks the text against an allow-list and builds the sympy
   expression node by node (no ``eval``, no ``sympify``), bounding size, nesting and
   constants so that no input can exhaust CPU or memory while it is being read.
2. :func:`derive` differentiates it twice and puts the results into a form ready for code
   generation. This is the one stage whose cost is hard to bound, so the service runs it in
   a child process with a time limit; its input and output are plain picklable data.
3. :class:`ExpressionLoss` turns the derivatives into vectorised NumPy functions and
   implements the :class:`core.losses.Loss` protocol.
"""

from __future__ import annotations

import ast
import importlib
import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import sympy
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.str import StrPrinter

from core.losses import Array

# sympy imports these on first use during parsing and differentiation; importing them here moves
# that cost to import time, which the service's forkserver pays once rather than every child.
for _module in (
    "sympy.assumptions.wrapper",
    "sympy.combinatorics",
    "sympy.sets.setexpr",
    "sympy.simplify.cse_main",
    "sympy.tensor.tensor",
):
    importlib.import_module(_module)

__all__ = [
    "DerivedExpression",
    "ExpressionError",
    "ExpressionLimits",
    "ExpressionLoss",
    "ParsedExpression",
    "RealAbs",
    "RealSign",
    "canonical_string",
    "check_expression",
    "compile_expression",
    "derive",
    "parse_expression",
]


@dataclass(frozen=True)
class ExpressionLimits:
    """Upper bounds on what an expression may contain and on the size of its derivatives."""

    max_length: int = 2000
    """Characters in the formula text."""
    max_nodes: int = 400
    """Syntax-tree nodes (numbers, names, operations and calls)."""
    max_depth: int = 40
    """Nesting depth of operations and of brackets; chains of ``+ -`` or ``* /`` count once."""
    max_exponent: int = 64
    """Largest magnitude of a constant exponent."""
    max_variables: int = 32
    """Number of variables, i.e. the dimension n of θ."""
    max_derivative_ops: int = 20000
    """Operations (sympy ``count_ops``) in the value, gradient and upper Hessian together."""


class ExpressionError(ValueError):
    """A formula, or its list of variables, that the service refuses.

    ``column`` is the 0-based offset of the offending text in the formula and ``token`` that
    text, when the problem has a place. ``field`` says which input is at fault:
    ``"expression"`` or ``"variables"``. ``hint`` is an optional suggestion. ``str()`` reads
    "<message> at column <column> (<hint>)", leaving out the parts that are None.
    """

    def __init__(
        self,
        message: str,
        column: int | None = None,
        token: str | None = None,
        field: Literal["expression", "variables"] = "expression",
        hint: str | None = None,
    ) -> None:
        text = message if column is None else f"{message} at column {column}"
        super().__init__(text if hint is None else f"{text} ({hint})")
        self.message = message
        self.column = column
        self.token = token
        self.field: Literal["expression", "variables"] = field
        self.hint = hint

    def __reduce__(self) -> tuple[Any, ...]:
        # The default pickling replays ``self.args`` (one string) through ``__init__`` and
        # would lose the attributes; the child process sends these errors to its parent.
        return (type(self), (self.message, self.column, self.token, self.field, self.hint))


class RealAbs(sympy.Function):  # type: ignore[misc]
    """|u| for a real u, with derivative ``RealSign(u)``.

    sympy's own ``Abs`` differentiates through ``re``/``im`` unless it can prove its argument
    real (it cannot for ``log(x)`` or ``sqrt(x)``), which code generation cannot handle.
    """

    @classmethod
    def eval(cls, arg: Any) -> Any:
        """Fold |c| for a number c; leave everything else unevaluated."""
        if arg.is_Number:
            return abs(arg)
        return None

    def fdiff(self, argindex: int = 1) -> Any:
        """d|u|/du = sign(u)."""
        return RealSign(self.args[0])


class RealSign(sympy.Function):  # type: ignore[misc]
    """sign(u) for a real u, whose derivative is taken as 0 (it is, except at u = 0)."""

    @classmethod
    def eval(cls, arg: Any) -> Any:
        """Fold sign(c) for a number c; leave everything else unevaluated."""
        if arg.is_Number:
            return sympy.sign(arg)
        return None

    def fdiff(self, argindex: int = 1) -> Any:
        """The almost-everywhere derivative of sign."""
        return sympy.S.Zero


_FUNCTIONS: Final[dict[str, Callable[[Any], Any]]] = {
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "arcsin": sympy.asin,
    "arccos": sympy.acos,
    "arctan": sympy.atan,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "exp": sympy.exp,
    "log": sympy.log,
    "log10": lambda u: sympy.log(u) / sympy.log(10),
    "log2": lambda u: sympy.log(u) / sympy.log(2),
    "sqrt": sympy.sqrt,
    "abs": RealAbs,
}

# Float counterparts, used to vet constant arguments before sympy sees them.
_FLOAT_FUNCTIONS: Final[dict[str, Callable[[float], float]]] = {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "arcsin": math.asin,
    "arccos": math.acos,
    "arctan": math.atan,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "tanh": math.tanh,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "sqrt": math.sqrt,
    "abs": abs,
}

_CONSTANTS: Final[dict[str, tuple[Any, float]]] = {
    "pi": (sympy.pi, math.pi),
    "e": (sympy.E, math.e),
}

_NON_DIFFERENTIABLE: Final = frozenset({"min", "max"})
_RESERVED: Final = frozenset(_FUNCTIONS) | frozenset(_CONSTANTS) | _NON_DIFFERENTIABLE
_NAME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,15}")
_MAX_CONSTANT: Final = 1e300
_MAX_LOG10_CONSTANT: Final = 300.0
_TOKEN_PREVIEW: Final = 40
_FILENAME: Final = "<expression>"
_TO_SPACE: Final = str.maketrans("\t\n\r", "   ")

# Python's parser warns about some odd input (e.g. "1if") through the warnings module; user
# text must not reach the server's log that way. Only warnings about our pseudo-file are hit.
warnings.filterwarnings("ignore", module=re.escape(_FILENAME))
_UNDEFINED: Final = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)

# Functions that may appear in a derivative; anything else (re, im, Derivative, ...) means
# sympy could not differentiate in closed form and code generation would fail.
_DERIVATIVE_FUNCTIONS: Final = (
    sympy.sin,
    sympy.cos,
    sympy.tan,
    sympy.asin,
    sympy.acos,
    sympy.atan,
    sympy.sinh,
    sympy.cosh,
    sympy.tanh,
    sympy.exp,
    sympy.log,
    sympy.Abs,
    sympy.sign,
    RealAbs,
    RealSign,
)

_BINOP_SYMBOLS: Final[dict[type[ast.operator], str]] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
    ast.Mod: "%",
    ast.FloorDiv: "//",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
}

_COMPARE_SYMBOLS: Final = ("==", "!=", "<=", ">=", "<", ">", "not", "in", "is")

_REFUSED_NODES: Final[dict[type[ast.AST], str]] = {
    ast.Lambda: "lambda expression {token} is not allowed",
    ast.ListComp: "comprehension {token} is not allowed",
    ast.SetComp: "comprehension {token} is not allowed",
    ast.DictComp: "comprehension {token} is not allowed",
    ast.GeneratorExp: "comprehension {token} is not allowed",
    ast.Tuple: "tuple {token} is not allowed",
    ast.List: "list {token} is not allowed",
    ast.Set: "set {token} is not allowed",
    ast.Dict: "dictionary {token} is not allowed",
    ast.JoinedStr: "string {token} is not allowed",
    ast.FormattedValue: "string {token} is not allowed",
    ast.NamedExpr: "assignment {token} is not allowed",
    ast.Starred: "starred expression {token} is not allowed",
    ast.Await: "{token} is not allowed",
    ast.Yield: "{token} is not allowed",
    ast.YieldFrom: "{token} is not allowed",
    ast.Slice: "slice {token} is not allowed",
}
_BOUND: Final = "constants must be finite and at most 1e300 in magnitude"
_TOO_LARGE_NUMBER: Final = f"number {{token}} is too large ({_BOUND})"
_TOO_LARGE_COMPUTED: Final = f"{{token}} gives a constant that is too large ({_BOUND})"


def _quote(token: str) -> str:
    """A token in quotes that do not clash with its own."""
    return f'"{token}"' if "'" in token and '"' not in token else f"'{token}'"


@dataclass(frozen=True)
class ParsedExpression:
    """A vetted formula: its text, its sympy form and the ordered names of θ's coordinates."""

    text: str
    expr: Any
    variables: tuple[str, ...]

    @property
    def symbols(self) -> tuple[Any, ...]:
        """The sympy symbols of the variables, in order."""
        return tuple(_symbol(name) for name in self.variables)


@dataclass(frozen=True)
class DerivedExpression:
    """A formula with its exact gradient and Hessian, ready for code generation.

    ``value``, ``gradient`` and ``hessian`` are in the user's variables. The ``*_cse`` fields
    are the same quantities rewritten in internal argument symbols ``_v0, _v1, ...`` after
    common-subexpression elimination, as ``(replacements, reduced expressions)``; the Hessian
    ones list the upper triangle row by row. Everything is picklable.
    """

    text: str
    variables: tuple[str, ...]
    value: Any
    gradient: tuple[Any, ...]
    hessian: tuple[tuple[Any, ...], ...]
    value_cse: tuple[Any, Any]
    value_and_grad_cse: tuple[Any, Any]
    hessian_cse: tuple[Any, Any]
    ops: int


def _symbol(name: str) -> Any:
    return sympy.Symbol(name, real=True)


def _argument_symbols(n: int) -> tuple[Any, ...]:
    # A leading underscore cannot occur in a user's variable name, so these never collide with
    # them, nor with the module names (``numpy``, ...) that the generated code refers to.
    return tuple(sympy.Symbol(f"_v{i}", real=True) for i in range(n))


class _Source:
    """The formula as parsed (``^`` spelled ``**``) with a map back to the user's text.

    The text is one line: parsing first replaces tabs and line breaks by spaces, which keeps
    every offset and lets a formula be written over several lines.
    """

    def __init__(self, text: str) -> None:
        self.original = text
        self.text = text.replace("^", "**")
        # Each "^" became two characters; both map back to the one original character.
        offsets: list[int] = []
        for i, char in enumerate(text):
            offsets.append(i)
            if char == "^":
                offsets.append(i)
        offsets.append(len(text))
        self._to_original = offsets

    def offset(self, lineno: int, col: int) -> int:
        """Offset in the parsed text of an ast (1-based line, 0-based column) position."""
        # One line, and columns are UTF-8 byte offsets, which equal character offsets in
        # ASCII text.
        return col

    def column(self, offset: int) -> int:
        """Offset in the user's text of an offset in the parsed text."""
        return self._to_original[min(max(offset, 0), len(self._to_original) - 1)]

    def token(self, start: int, end: int) -> str:
        """The user's text between two offsets of the parsed text."""
        if end <= start:
            return self.original[self.column(start) : self.column(start) + 1]
        first = self.column(start)
        last = self.column(end - 1) + 1
        token = self.original[first:last]
        if len(token) > _TOKEN_PREVIEW:
            token = token[: _TOKEN_PREVIEW - 3] + "..."
        return token

    def span(self, node: ast.AST) -> tuple[int, int]:
        """Offsets in the parsed text where a node starts and ends."""
        start = self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end_line = getattr(node, "end_lineno", None)
        end_col = getattr(node, "end_col_offset", None)
        end = start + 1 if end_line is None or end_col is None else self.offset(end_line, end_col)
        return start, end

    def error(self, message: str, node: ast.AST, hint: str | None = None) -> ExpressionError:
        """A refusal located at a node; ``{token}`` in the message becomes its quoted text."""
        return self.error_at(message, *self.span(node), hint=hint)

    def error_at(
        self, message: str, start: int, end: int, hint: str | None = None
    ) -> ExpressionError:
        """A refusal located at a stretch of the parsed text, like :meth:`error`."""
        token = self.token(start, end)
        message = message.replace("{token}", _quote(token))
        return ExpressionError(message, self.column(start), token, "expression", hint)

    def find_between(
        self, after: ast.AST, before: ast.AST, symbols: Sequence[str]
    ) -> tuple[int, int] | None:
        """Where the first of ``symbols`` occurs between two nodes (an operator's position)."""
        _, lo = self.span(after)
        hi, _ = self.span(before)
        gap = self.text[lo:hi]
        hits = [(gap.find(s), s) for s in symbols if gap.find(s) >= 0]
        if not hits:
            return None
        index, symbol = min(hits)
        return lo + index, lo + index + len(symbol)


@dataclass(frozen=True)
class _Built:
    """A translated subtree: its sympy form (None when only vetting) and a constant's value."""

    expr: Any
    const: float | None


class _Builder:
    """Vets a Python syntax tree node by node and, if ``symbolic``, translates it to sympy.

    Without ``symbolic`` it only tracks the float values of constant subtrees, which is enough
    for every check but those on the numbers sympy itself folds together.
    """

    def __init__(
        self,
        source: _Source,
        limits: ExpressionLimits,
        allowed: frozenset[str] | None,
        symbolic: bool,
    ):
        self.source = source
        self.limits = limits
        self.allowed = allowed
        self.symbolic = symbolic
        self.names: set[str] = set()

    def build(self, node: ast.expr, depth: int) -> _Built:
        if depth > self.limits.max_depth:
            raise self.source.error(
                f"expression is nested too deeply (more than {self.limits.max_depth} levels)",
                node,
            )
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.BinOp):
            return self._binop(node, depth)
        if isinstance(node, ast.UnaryOp):
            return self._unaryop(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise self._refusal(node, depth)

    # -- leaves --------------------------------------------------------------------------

    def _constant(self, node: ast.Constant) -> _Built:
        value = node.value
        if isinstance(value, bool) or value is None or value is Ellipsis:
            raise self.source.error("{token} is not a number", node)
        if isinstance(value, str | bytes):
            raise self.source.error("string {token} is not allowed", node)
        if isinstance(value, complex):
            raise self.source.error("complex number {token} is not allowed", node)
        if isinstance(value, int):
            if value.bit_length() > 997:  # 2**997 > 1e300
                raise self.source.error(_TOO_LARGE_NUMBER, node)
            return _Built(sympy.Integer(value) if self.symbolic else None, float(value))
        if isinstance(value, float):
            if not math.isfinite(value) or abs(value) > _MAX_CONSTANT:
                raise self.source.error(_TOO_LARGE_NUMBER, node)
            # precision=53 keeps every bit of the literal, so code generation prints it back
            # exactly.
            return _Built(sympy.Float(value, precision=53) if self.symbolic else None, value)
        raise self.source.error("{token} is not a number", node)

    def _name(self, node: ast.Name) -> _Built:
        name = node.id
        if name in _CONSTANTS:
            expr, value = _CONSTANTS[name]
            return _Built(expr, value)
        if name in _FUNCTIONS:
            raise self.source.error(f"function '{name}' must be called, as in {name}(x)", node)
        if name in _NON_DIFFERENTIABLE:
            raise self.source.error(_min_max_message(name), node)
        problem = _name_problem(name)
        if problem is not None:
            raise self.source.error(f"invalid variable name '{name}': {problem}", node)
        if self.allowed is not None and name not in self.allowed:
            listed = ", ".join(sorted(self.allowed)) or "none"
            raise self.source.error(
                f"unknown variable '{name}'", node, hint=f"the variables are: {listed}"
            )
        self.names.add(name)
        if self.allowed is None and len(self.names) > self.limits.max_variables:
            raise self.source.error(
                f"too many variables (more than {self.limits.max_variables})", node
            )
        return _Built(_symbol(name) if self.symbolic else None, None)

    # -- operations ----------------------------------------------------------------------

    def _binop(self, node: ast.BinOp, depth: int) -> _Built:
        op = type(node.op)
        if op in (ast.Add, ast.Sub):
            return self._sum(node, depth)
        if op in (ast.Mult, ast.Div):
            return self._product(node, depth)
        if op is ast.Pow:
            base = self.build(node.left, depth + 1)
            exponent = self.build(node.right, depth + 1)
            return self._power(node, base, exponent)
        symbol = _BINOP_SYMBOLS.get(op, "?")
        self.build(node.left, depth + 1)
        where = self.source.find_between(node.left, node.right, [symbol])
        message = f"operator '{symbol}' is not allowed (use + - * / ** or ^)"
        if where is None:
            raise self.source.error(message, node)
        raise self.source.error_at(message, *where)

    def _chain(self, node: ast.BinOp, ops: tuple[type[ast.operator], ...]) -> list[ast.BinOp]:
        """The left spine of ``a op b op c ...``, innermost first, walked without recursion."""
        spine: list[ast.BinOp] = []
        current: ast.expr = node
        while isinstance(current, ast.BinOp) and isinstance(current.op, ops):
            spine.append(current)
            current = current.left
        spine.reverse()
        return spine

    def _sum(self, node: ast.BinOp, depth: int) -> _Built:
        # A long sum is one level of nesting, however many terms it has.
        spine = self._chain(node, (ast.Add, ast.Sub))
        first = self.build(spine[0].left, depth + 1)
        terms = [first.expr]
        const: float | None = first.const
        for link in spine:
            term = self.build(link.right, depth + 1)
            sign = 1 if isinstance(link.op, ast.Add) else -1
            if self.symbolic:
                terms.append(term.expr if sign == 1 else -term.expr)
            if const is not None and term.const is not None:
                const = const + sign * term.const
                self._check_constant(const, node)
            else:
                const = None
        return self._checked(sympy.Add(*terms) if self.symbolic else None, const, node)

    def _product(self, node: ast.BinOp, depth: int) -> _Built:
        spine = self._chain(node, (ast.Mult, ast.Div))
        first = self.build(spine[0].left, depth + 1)
        factors = [first.expr]
        const: float | None = first.const
        for link in spine:
            factor = self.build(link.right, depth + 1)
            if isinstance(link.op, ast.Div):
                if factor.const == 0.0 or (self.symbolic and factor.expr == 0):
                    raise self.source.error("division by {token}, which is zero", link.right)
                factors.append(sympy.Pow(factor.expr, -1) if self.symbolic else None)
                if const is not None and factor.const is not None:
                    const = const / factor.const
            else:
                factors.append(factor.expr)
                if const is not None and factor.const is not None:
                    const = const * factor.const
            if factor.const is None:
                const = None
            if const is not None:
                self._check_constant(const, node)
        return self._checked(sympy.Mul(*factors) if self.symbolic else None, const, node)

    def _power(self, node: ast.BinOp, base: _Built, exponent: _Built) -> _Built:
        p = exponent.const
        if p is None and self.symbolic and exponent.expr.is_Number:
            p = _number_to_float(exponent.expr)
        if p is not None:
            if not math.isfinite(p) or abs(p) > self.limits.max_exponent:
                raise self.source.error(
                    f"exponent {{token}} is too large (its magnitude must be at most "
                    f"{self.limits.max_exponent})",
                    node.right,
                )
            # sympy distributes a numeric exponent over the exact numbers inside the base
            # ((10**6*x)**60 becomes 10**360*x**60), so bound the digits it would compute.
            if self.symbolic and _exact_log10(base.expr) * abs(p) > _MAX_LOG10_CONSTANT:
                raise self.source.error(_TOO_LARGE_COMPUTED, node)
        const: float | None = None
        if base.const is not None and p is not None:
            try:
                const = math.pow(base.const, p)
            except OverflowError:
                raise self.source.error(_TOO_LARGE_COMPUTED, node) from None
            except (ValueError, ZeroDivisionError):
                raise self.source.error(
                    "power {token} is undefined (zero to a negative power, or a negative "
                    "number to a fractional power)",
                    node,
                ) from None
            self._check_constant(const, node)
        expr = sympy.Pow(base.expr, exponent.expr) if self.symbolic else None
        return self._checked(expr, const, node)

    def _unaryop(self, node: ast.UnaryOp, depth: int) -> _Built:
        if isinstance(node.op, ast.USub):
            operand = self.build(node.operand, depth + 1)
            const = None if operand.const is None else -operand.const
            return _Built(-operand.expr if self.symbolic else None, const)
        if isinstance(node.op, ast.UAdd):
            return self.build(node.operand, depth + 1)
        symbol = "not" if isinstance(node.op, ast.Not) else "~"
        start, _ = self.source.span(node)
        raise self.source.error_at(
            f"operator '{symbol}' is not allowed", start, start + len(symbol)
        )

    def _call(self, node: ast.Call, depth: int) -> _Built:
        func = node.func
        if not isinstance(func, ast.Name):
            # Report the leftmost problem first: in ``__import__('os').system`` that is the
            # call of ``__import__``, not the attribute.
            self.build(func, depth + 1)
            raise self.source.error(
                "call {token} is not allowed (only the listed functions can be called)", node
            )
        name = func.id
        if name in _NON_DIFFERENTIABLE:
            raise self.source.error(_min_max_message(name), func)
        if name not in _FUNCTIONS:
            allowed = " ".join(_FUNCTIONS)
            raise self.source.error(
                f"unknown function '{name}'", func, hint=f"allowed functions: {allowed}"
            )
        if node.keywords:
            raise self.source.error(f"{name}() takes no keyword arguments", node.keywords[0])
        if len(node.args) != 1:
            raise self.source.error(
                f"{name}() takes exactly one argument ({len(node.args)} given)", node
            )
        argument = self.build(node.args[0], depth + 1)
        const: float | None = None
        if argument.const is not None:
            try:
                const = _FLOAT_FUNCTIONS[name](argument.const)
            except OverflowError:
                raise self.source.error(_TOO_LARGE_COMPUTED, node) from None
            except (ValueError, ZeroDivisionError):
                raise self.source.error(
                    f"{{token}} is undefined ({name}() is not defined at {argument.const:g})",
                    node,
                ) from None
            self._check_constant(const, node)
        expr = _FUNCTIONS[name](argument.expr) if self.symbolic else None
        return self._checked(expr, const, node)

    # -- checks --------------------------------------------------------------------------

    def _check_constant(self, value: float, node: ast.AST) -> None:
        if not math.isfinite(value) or abs(value) > _MAX_CONSTANT:
            raise self.source.error(_TOO_LARGE_COMPUTED, node)

    def _checked(self, expr: Any, const: float | None, node: ast.AST) -> _Built:
        if not self.symbolic:
            return _Built(None, const)
        # sympy may evaluate a constant where floats did not fail (tan(pi/2) is zoo).
        if expr in _UNDEFINED:
            raise self.source.error("{token} is undefined (it divides by zero)", node)
        # sympy gathers the numbers of a product or sum into one coefficient (1e300*x*1e300
        # is 1e600*x), which must stay within the bound on constants.
        if expr.is_Mul:
            coefficient = expr.as_coeff_Mul()[0]
        elif expr.is_Add:
            coefficient = expr.as_coeff_Add()[0]
        else:
            coefficient = expr
        if coefficient.is_Number and abs(_number_to_float(coefficient)) > _MAX_CONSTANT:
            raise self.source.error(_TOO_LARGE_COMPUTED, node)
        return _Built(expr, const)

    def _refusal(self, node: ast.expr, depth: int) -> ExpressionError:
        source = self.source
        if isinstance(node, ast.Attribute):
            self.build(node.value, depth + 1)
            return source.error("attribute access {token} is not allowed", node)
        if isinstance(node, ast.Subscript):
            self.build(node.value, depth + 1)
            return source.error("subscript {token} is not allowed", node)
        if isinstance(node, ast.Compare):
            self.build(node.left, depth + 1)
            where = source.find_between(node.left, node.comparators[0], _COMPARE_SYMBOLS)
            if where is not None:
                return source.error_at("comparison {token} is not allowed", *where)
            return source.error("comparison {token} is not allowed", node)
        if isinstance(node, ast.BoolOp):
            self.build(node.values[0], depth + 1)
            word = "and" if isinstance(node.op, ast.And) else "or"
            where = source.find_between(node.values[0], node.values[1], [word])
            if where is not None:
                return source.error_at("{token} is not allowed", *where)
            return source.error("{token} is not allowed", node)
        if isinstance(node, ast.IfExp):
            self.build(node.body, depth + 1)
            where = source.find_between(node.body, node.test, ["if"])
            message = "conditional expression {token} is not allowed"
            if where is not None:
                return source.error_at(message, *where)
            return source.error(message, node)
        message = _REFUSED_NODES.get(type(node), "{token} is not allowed")
        return source.error(message, node)


def _min_max_message(name: str) -> str:
    return (
        f"{name} is not allowed: min/max are not differentiable everywhere; use a smooth "
        f"form such as (a + b {'-' if name == 'min' else '+'} sqrt((a - b)**2 + eps))/2"
    )


def _name_problem(name: str) -> str | None:
    """Why a string cannot name a variable, or None if it can."""
    if not _NAME_RE.fullmatch(name):
        if len(name) > 16:
            return "names have at most 16 characters"
        return "names start with a letter and contain only letters, digits and '_'"
    if name in _RESERVED:
        return "it is the name of a function or constant"
    return None


def _number_to_float(number: Any) -> float:
    try:
        return float(number)
    except OverflowError:
        return math.inf


def _exact_log10(expr: Any) -> float:
    """log10 of the largest integer numerator or denominator among the exact numbers in expr."""
    largest = 0
    for atom in expr.atoms(sympy.Rational):
        largest = max(largest, abs(int(atom.p)).bit_length(), abs(int(atom.q)).bit_length())
    return largest * math.log10(2)


def _scan_brackets(source: _Source, limits: ExpressionLimits) -> None:
    """Refuse bracket nesting beyond the limit before Python's parser recurses into it."""
    depth = 0
    for i, char in enumerate(source.text):
        if char in "([{":
            depth += 1
            if depth > limits.max_depth:
                raise source.error_at(
                    f"expression is nested too deeply (more than {limits.max_depth} levels)",
                    i,
                    i + 1,
                )
        elif char in ")]}":
            depth -= 1


def _check_variables(variables: Sequence[str], limits: ExpressionLimits) -> tuple[str, ...]:
    names = tuple(variables)
    if len(names) > limits.max_variables:
        raise ExpressionError(
            f"too many variables ({len(names)}; at most {limits.max_variables})",
            field="variables",
        )
    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str):
            raise ExpressionError("variable names must be strings", field="variables")
        problem = _name_problem(name)
        if problem is not None:
            raise ExpressionError(
                f"invalid variable name '{name}': {problem}", token=name, field="variables"
            )
        if name in seen:
            raise ExpressionError(
                f"variable '{name}' is listed twice", token=name, field="variables"
            )
        seen.add(name)
    return names


def check_expression(
    text: str, variables: Sequence[str] | None, limits: ExpressionLimits
) -> tuple[str, ...]:
    """Vet a formula without building it in sympy, and return its variables in order.

    Performs every check of :func:`parse_expression` except those on the numbers sympy folds
    together, in time linear in the text; raises :class:`ExpressionError` likewise.
    """
    return _translate(text, variables, limits, symbolic=False).variables


def parse_expression(
    text: str, variables: Sequence[str] | None, limits: ExpressionLimits
) -> ParsedExpression:
    """Vet a formula and translate it to sympy.

    ``variables`` fixes the order of θ's coordinates and may include names the formula does
    not use; when it is None the formula's names are taken in alphabetical order.
    Raises :class:`ExpressionError` for anything outside the allowed grammar or limits.
    """
    return _translate(text, variables, limits, symbolic=True)


def _translate(
    text: str, variables: Sequence[str] | None, limits: ExpressionLimits, symbolic: bool
) -> ParsedExpression:
    if len(text) > limits.max_length:
        raise ExpressionError(
            f"expression is too long ({len(text)} characters; at most {limits.max_length})"
        )
    allowed = None if variables is None else _check_variables(variables, limits)
    for i, char in enumerate(text):
        # "#" would start a comment, which once lines are joined would hide what follows.
        if not (char.isascii() and (char.isprintable() or char in "\t\n\r")) or char == "#":
            raise ExpressionError(f"unexpected character {char!r}", i, char)
    if not text.strip():
        raise ExpressionError("expression is empty")

    source = _Source(text.translate(_TO_SPACE))
    _scan_brackets(source, limits)
    try:
        tree = ast.parse(source.text, filename=_FILENAME, mode="eval")
    except SyntaxError as err:
        detail = (err.msg or "invalid syntax").rstrip(".")
        if err.lineno is None or err.offset is None:
            raise ExpressionError(f"syntax error: {detail}") from None
        offset = source.offset(err.lineno, max(err.offset - 1, 0))
        token = source.token(offset, offset + 1)
        if token.strip() and _quote(token) not in detail:
            detail += " near {token}"
        raise source.error_at(f"syntax error: {detail}", offset, offset + 1) from None
    except (RecursionError, MemoryError):
        raise ExpressionError("expression is nested too deeply") from None

    # ast.walk is iterative, so counting is safe however deep the tree.
    nodes = sum(1 for node in ast.walk(tree) if isinstance(node, ast.expr | ast.keyword))
    if nodes > limits.max_nodes:
        raise ExpressionError(
            f"expression is too large ({nodes} terms and operations; at most {limits.max_nodes})"
        )

    builder = _Builder(source, limits, None if allowed is None else frozenset(allowed), symbolic)
    try:
        expr = builder.build(tree.body, 1).expr
    except RecursionError:
        raise ExpressionError("expression is nested too deeply") from None
    if symbolic and expr.has(sympy.I):
        raise ExpressionError("the expression is not real-valued")
    if symbolic and expr.has(*_UNDEFINED):
        raise ExpressionError("the expression is undefined (it divides by zero)")

    if allowed is None:
        if not builder.names:
            raise ExpressionError("expression has no variables")
        names = tuple(sorted(builder.names))
    else:
        if not allowed:
            raise ExpressionError("at least one variable is required", field="variables")
        names = allowed
    return ParsedExpression(text=text, expr=expr, variables=names)


# -- differentiation ---------------------------------------------------------------------


def _clean(expr: Any) -> Any:
    """Drop DiracDelta terms (sign's derivative) and refuse what code generation can't do."""
    if expr.has(sympy.DiracDelta):
        expr = expr.replace(lambda e: isinstance(e, sympy.DiracDelta), lambda e: sympy.S.Zero)
    for function in expr.atoms(sympy.Function):
        if not isinstance(function, _DERIVATIVE_FUNCTIONS):
            raise ExpressionError(
                f"the expression cannot be differentiated in closed form "
                f"(its derivative involves {type(function).__name__})"
            )
    if expr.has(sympy.I, *_UNDEFINED):
        raise ExpressionError("the derivatives of the expression are not real-valued")
    return expr


def derive(parsed: ParsedExpression, limits: ExpressionLimits) -> DerivedExpression:
    """Differentiate twice and prepare the results for code generation.

    The Hessian's upper triangle is computed and mirrored. Raises :class:`ExpressionError`
    when the derivatives exceed ``limits.max_derivative_ops`` operations.
    """
    budget = limits.max_derivative_ops

    def spend(ops: int) -> int:
        if ops > budget:
            raise ExpressionError(
                f"expression is too complex: its derivatives have more than {budget} "
                f"operations; simplify it"
            )
        return ops

    try:
        symbols = parsed.symbols
        n = len(symbols)
        value = _clean(parsed.expr)
        ops = spend(int(sympy.count_ops(value)))
        gradient = []
        for s in symbols:
            g = _clean(sympy.diff(value, s))
            ops = spend(ops + int(sympy.count_ops(g)))
            gradient.append(g)
        rows: list[list[Any]] = [[sympy.S.Zero] * n for _ in range(n)]
        upper = []
        for i in range(n):
            for j in range(i, n):
                h = sympy.S.Zero
                if gradient[i] != 0:
                    h = _clean(sympy.diff(gradient[i], symbols[j]))
                ops = spend(ops + int(sympy.count_ops(h)))
                rows[i][j] = rows[j][i] = h
                upper.append(h)

        internal = dict(zip(symbols, _argument_symbols(n), strict=True))

        def reduce(exprs: list[Any]) -> tuple[Any, Any]:
            renamed = [e.xreplace(internal) for e in exprs]
            replacements, reduced = sympy.cse(
                renamed, symbols=sympy.numbered_symbols("_c", real=True), list=True
            )
            # cse rebuilds expressions, and sympy then applies what it can prove, e.g.
            # sqrt(-65**x) = I*sqrt(65**x): a formula complex everywhere shows up only here.
            for e in [*(rhs for _, rhs in replacements), *reduced]:
                if e.has(sympy.I, *_UNDEFINED):
                    raise ExpressionError("the expression is not real-valued")
            return tuple(replacements), tuple(reduced)

        return DerivedExpression(
            text=parsed.text,
            variables=parsed.variables,
            value=value,
            gradient=tuple(gradient),
            hessian=tuple(tuple(row) for row in rows),
            value_cse=reduce([value]),
            value_and_grad_cse=reduce([value, *gradient]),
            hessian_cse=reduce(upper),
            ops=ops,
        )
    except (RecursionError, MemoryError):
        raise ExpressionError("expression is too complex to differentiate; simplify it") from None


# -- evaluation ----------------------------------------------------------------------------


class _CanonicalPrinter(StrPrinter):  # type: ignore[misc]
    """Prints sympy expressions in the formula language that :func:`parse_expression` reads."""

    # sympy dispatches on ``_print_<ClassName>``, hence the method names.

    def _print_Exp1(self, expr: Any) -> str:  # noqa: N802
        return "e"

    def _print_Float(self, expr: Any) -> str:  # noqa: N802
        return repr(float(expr))

    def _print_RealAbs(self, expr: Any) -> str:  # noqa: N802
        return f"abs({self._print(expr.args[0])})"

    def _print_Abs(self, expr: Any) -> str:  # noqa: N802
        return f"abs({self._print(expr.args[0])})"

    def _print_asin(self, expr: Any) -> str:
        return f"arcsin({self._print(expr.args[0])})"

    def _print_acos(self, expr: Any) -> str:
        return f"arccos({self._print(expr.args[0])})"

    def _print_atan(self, expr: Any) -> str:
        return f"arctan({self._print(expr.args[0])})"


def canonical_string(expr: Any) -> str:
    """A sympy expression written in the formula language."""
    return str(_CanonicalPrinter().doprint(expr))


_MAX_PRODUCT = 4
"""Integer powers up to this of a name are printed as products."""


class _NumPyCodePrinter(NumPyPrinter):  # type: ignore[misc]
    """sympy's NumPy printer, printing every non-integer constant as a NumPy float64.

    The generated code refers to each such constant by a name (``_k0``, ...) bound in its
    globals, rather than writing a Python float literal: arithmetic between Python floats
    raises on overflow (``1e300**2``) or division by zero and gives complex numbers for a
    negative base to a fractional power, where NumPy scalars give inf or nan as arrays do.
    The stock printer also rounds Floats to 15 digits (0.30000000000000004 would be 0.3).
    """

    def __init__(self, settings: dict[str, Any]) -> None:
        super().__init__(settings)
        self.constants: dict[str, np.float64] = {}
        self._names: dict[str, str] = {}

    def _constant(self, value: float) -> str:
        key = repr(value)
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = f"_k{len(self._names)}"
            self.constants[name] = np.float64(value)
        return name

    def _print_Float(self, expr: Any) -> str:  # noqa: N802
        return self._constant(float(expr))

    def _print_Rational(self, expr: Any) -> str:  # noqa: N802
        return self._constant(_number_to_float(expr))

    def _print_Integer(self, expr: Any) -> str:  # noqa: N802
        # Small integers stay exact Python ints (x**2 is faster than x**2.0); larger ones
        # would make NumPy fall back to object arrays.
        if abs(int(expr.p)) < 2**53:
            return str(expr.p)
        return self._constant(_number_to_float(expr))

    def _print_Pi(self, expr: Any) -> str:  # noqa: N802
        return self._constant(math.pi)

    def _print_Exp1(self, expr: Any) -> str:  # noqa: N802
        return self._constant(math.e)

    def _print_NaN(self, expr: Any) -> str:  # noqa: N802
        return self._constant(math.nan)

    def _print_Pow(self, expr: Any, rational: bool = False) -> str:  # noqa: N802
        # A point's coordinates arrive as NumPy scalars, whose `**` calls the C library's pow,
        # while arrays use NumPy's vectorised power: the two can differ in the last bit, and a
        # batch row must equal the single run from its start exactly. Small integer powers of a
        # name become products (exact and fast either way); other powers call the power ufunc,
        # which scalars and arrays share.
        base, exponent = expr.base, expr.exp
        if exponent in (sympy.S.Half, -sympy.S.Half):
            return str(super()._print_Pow(expr, rational=rational))
        if exponent.is_Integer and base.is_Symbol and 1 <= abs(int(exponent)) <= _MAX_PRODUCT:
            product = "*".join([self._print(base)] * abs(int(exponent)))
            return f"({product})" if exponent > 0 else f"(1/({product}))"
        power = self._module_format(self._module + ".power")
        return f"{power}({self._print(base)}, {self._print(exponent)})"

    def _print_Infinity(self, expr: Any) -> str:  # noqa: N802
        return self._constant(math.inf)

    def _print_NegativeInfinity(self, expr: Any) -> str:  # noqa: N802
        return self._constant(-math.inf)


_Compiled = Callable[..., Any]


def _lambdify(n: int, reduced: tuple[Any, Any]) -> _Compiled:
    replacements, exprs = reduced
    printer = _NumPyCodePrinter(
        {
            "fully_qualified_modules": False,
            "inline": True,
            "allow_unknown_functions": False,
            "user_functions": {"RealAbs": "absolute", "RealSign": "sign"},
        }
    )
    compiled: _Compiled = sympy.lambdify(
        _argument_symbols(n),
        list(exprs),
        modules="numpy",
        printer=printer,
        # The child process already eliminated common subexpressions (cse can be slow).
        cse=lambda _exprs: (list(replacements), list(exprs)),
        docstring_limit=0,
    )
    # The constants are known only once the code is printed; lambdify's namespace, which the
    # function keeps as its globals, is already built by then.
    compiled.__globals__.update(printer.constants)
    # User functions are printed by name only; lambdify does not import them.
    compiled.__globals__.update(absolute=np.absolute, sign=np.sign)
    return compiled


class ExpressionLoss:
    """A loss given by a formula, evaluated by generated NumPy code (see :class:`Loss`)."""

    def __init__(self, derived: DerivedExpression) -> None:
        self._derived = derived
        n = len(derived.variables)
        self._n = n
        self._value_fn = _lambdify(n, derived.value_cse)
        self._value_and_grad_fn = _lambdify(n, derived.value_and_grad_cse)
        self._hessian_fn = _lambdify(n, derived.hessian_cse)
        self._upper = [(i, j) for i in range(n) for j in range(i, n)]
        self.canonical = canonical_string(derived.value)
        """The parsed formula, normalised by sympy and printed in the formula language."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Generated functions do not pickle; rebuilding them from the derivatives is cheap.
        return (type(self), (self._derived,))

    @property
    def expression(self) -> str:
        """The formula as the user wrote it."""
        return self._derived.text

    @property
    def variables(self) -> tuple[str, ...]:
        """The names of θ's coordinates, in order."""
        return self._derived.variables

    @property
    def names(self) -> tuple[str, ...]:
        """One name per coordinate of θ, in order."""
        return self._derived.variables

    @property
    def derived(self) -> DerivedExpression:
        """The symbolic value, gradient and Hessian this loss evaluates."""
        return self._derived

    def _check_shape(self, theta: Array) -> None:
        if theta.ndim == 0 or theta.shape[-1] != self._n:
            raise ValueError(f"theta must have shape (..., {self._n}); got {theta.shape}")

    def _columns(self, theta: Array) -> list[Any]:
        # A single point is passed as NumPy scalars, on which the generated arithmetic is
        # several times faster than on 0-d arrays; a batch as one array per coordinate.
        if theta.ndim == 1:
            return list(theta)
        return [theta[..., i] for i in range(self._n)]

    def value(self, theta: Array) -> Array:
        """f(θ) with shape ``theta.shape[:-1]``."""
        theta = np.asarray(theta, dtype=np.float64)
        self._check_shape(theta)
        with np.errstate(all="ignore"):
            (result,) = self._value_fn(*self._columns(theta))
        out = np.empty(theta.shape[:-1])
        out[...] = result
        return out

    def point_value_and_grad(self, theta: Array) -> tuple[float, Array]:
        """(f(θ), ∇f(θ)) at one point θ of shape (n,), f as a float: the run loop's hot path.

        Unlike :meth:`value_and_grad` it neither checks θ's shape nor silences NumPy's
        floating-point warnings: the run loop's points have the right shape by construction, and
        it silences the warnings once for the whole run.
        """
        # The coordinates go in as Python floats, whose + − × ÷ are the same IEEE operations
        # as NumPy scalars' but several times cheaper. Where Python raises instead of returning
        # ±inf or nan (a division by zero), the point is evaluated again on NumPy scalars.
        try:
            results = self._value_and_grad_fn(*theta.tolist())
        except ZeroDivisionError:
            results = self._value_and_grad_fn(*list(theta))
        return float(results[0]), np.array(results[1:], dtype=np.float64)

    def value_and_grad(self, theta: Array) -> tuple[Array, Array]:
        """(f(θ), ∇f(θ)) with shapes ``theta.shape[:-1]`` and ``theta.shape``."""
        theta = np.asarray(theta, dtype=np.float64)
        self._check_shape(theta)
        with np.errstate(all="ignore"):
            if theta.ndim == 1:
                point_value, point_grad = self.point_value_and_grad(theta)
                return np.array(point_value), point_grad
            results = self._value_and_grad_fn(*self._columns(theta))
        value = np.empty(theta.shape[:-1])
        value[...] = results[0]
        grad = np.empty(theta.shape)
        for i in range(self._n):
            # Assignment broadcasts constant entries (a literal 2) to the batch shape.
            grad[..., i] = results[i + 1]
        return value, grad

    def hessian(self, theta: Array) -> Array:
        """∇²f(θ) with shape ``theta.shape + (n,)``."""
        theta = np.asarray(theta, dtype=np.float64)
        self._check_shape(theta)
        with np.errstate(all="ignore"):
            results = self._hessian_fn(*self._columns(theta))
        out = np.empty((*theta.shape, self._n))
        for (i, j), entry in zip(self._upper, results, strict=True):
            out[..., i, j] = entry
            if i != j:
                out[..., j, i] = entry
        return out


def compile_expression(
    text: str, variables: Sequence[str] | None, limits: ExpressionLimits
) -> ExpressionLoss:
    """Parse, differentiate and compile a formula in this process."""
    return ExpressionLoss(derive(parse_expression(text, variables, limits), limits))
