"""The Data Prep expression language: tokenizer, parser, AST, and the row and Arrow evaluators.

``parse(text)`` gives the syntax tree; ``compile_expression(text)`` also checks function names and arities and
returns a :class:`CompiledExpression` that evaluates one row (``evaluate_row``, used by preview) or a whole
Arrow batch (``evaluate_arrow``, used by dataflow runs).  Both evaluators share the function semantics in
``functions.py`` and agree on results (the row evaluator is the reference: ``tests/test_expression_agreement.py``
checks it on generated expressions); the Arrow evaluator runs Arrow kernels for everything listed in
``functions.VECTORISED_FUNCTIONS`` and evaluates only the remaining calls row by row (``ROW_FUNCTIONS``). Results of
row-by-row calls that no Arrow array holds exactly (ints and floats together, objects with different keys, dates in
different zones) stay Python values (``functions.Rows``) for the calls that follow; only the final column is
converted.

Grammar (lowest precedence first)::

    expr     := or ('?' expr ':' expr | '?:' expr)?          ternary / elvis, right-associative
    or       := and (('||' | 'or') and)*
    and      := eq (('&&' | 'and') eq)*
    eq       := rel (('==' | 'eq' | '!=' | 'ne') rel)*
    rel      := add (('<' | 'lt' | '<=' | 'le' | '>' | 'gt' | '>=' | 'ge') add)*
    add      := mul (('+' | '-') mul)*
    mul      := unary (('*' | '/' | 'div' | '%' | 'mod') unary)*
    unary    := ('!' | 'not' | '-' | '+') unary | postfix
    postfix  := primary ('.' name | '.' name '(' args ')' | '[' expr | '*' ']')*
    primary  := number | string | true | false | null | name '(' args ')' | name | '${' text '}'
              | '(' expr ')' | '[' args ']' | '{' key ':' expr, ... '}'

Field names may contain escaped dots (``street\\.name``); names that are not identifiers or are reserved words
are wrapped (``${First Name}``).  Errors are :class:`ExpressionError` with a 1-based column.

Limits (AEP Local's choices; Adobe documents none): an expression is at most ``MAX_EXPRESSION_LENGTH`` (4,096)
characters and nests at most ``MAX_NESTING`` (100) levels deep -- parentheses, calls, brackets, operators,
ternaries and postfix chains each count as a level, in the text and in the syntax tree (``a + b + c`` is two levels
deep); no function returns a string longer than ``functions.MAX_STRING_LENGTH`` (1,000,000) characters.  A call
whose constant arguments break a limit (``lpad("a", 300000000, "b")``) fails compilation; with arguments read
from the row it is a row error.
"""

from __future__ import annotations

import datetime as _dt
import random
import re
import uuid as _uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import functions as F
from .functions import Const, EvaluationError, Fallback
from .functions.regex import PATTERN_ARGUMENTS, compile_pattern

__all__ = [
    "MAX_EXPRESSION_LENGTH",
    "MAX_NESTING",
    "CompiledExpression",
    "EvalContext",
    "EvaluationError",
    "ExpressionError",
    "compile_expression",
    "field_refs",
    "parse",
    "parse_path",
    "path_text",
]

MAX_EXPRESSION_LENGTH = 4096
MAX_NESTING = F.MAX_NESTING

#: Words that cannot be bare field names (wrap them: ``${new}``); operator words and literals are tokens.
RESERVED_WORDS = frozenset(
    ["new", "break", "var", "for", "while", "continue", "else", "if", "return", "do", "function", "_errors"]
)
_WORD_OPERATORS = {"and": "&&", "or": "||", "not": "!", "eq": "==", "ne": "!=", "lt": "<", "le": "<=",
                   "gt": ">", "ge": ">=", "div": "/", "mod": "%"}
_LITERAL_WORDS = {"true": True, "false": False, "null": None}
_BINARY_PRECEDENCE = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4, "+": 5, "-": 5,
                      "*": 6, "/": 6, "%": 6}
_TWO_CHAR = ("||", "&&", "==", "!=", "<=", ">=")
_ONE_CHAR = "+-*/%<>!?:()[]{},."
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "\\": "\\", '"': '"', "'": "'", "/": "/"}
_NUMBER = re.compile(r"\d+(\.\d+)?([eE][+-]?\d+)?")
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError)
_ROW_ERRORS = (ValueError, TypeError, ArithmeticError, LookupError, re.error)
_TOO_DEEP = f"expression is nested more than {MAX_NESTING} levels deep"


class ExpressionError(ValueError):
    """An expression that cannot be parsed or compiled; ``position`` is the 1-based column."""

    def __init__(self, message: str, position: int | None = None) -> None:
        text = f"{message} at column {position}" if position is not None else message
        super().__init__(text)
        self.message = text
        self.position = position


# --------------------------------------------------------------------------------------------------------------
# Evaluation context
# --------------------------------------------------------------------------------------------------------------


def _system_clock() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


@dataclass(frozen=True)
class EvalContext:
    """Where ``now()``/``timestamp()`` and ``uuid()``/``guid()`` take their values from."""

    clock: Callable[[], _dt.datetime] = _system_clock
    uuid_factory: Callable[[], Any] = _uuid.uuid4

    def now(self) -> _dt.datetime:
        return F.as_aware(self.clock())

    def new_uuid(self) -> str:
        return str(self.uuid_factory())

    @classmethod
    def deterministic(cls, now: _dt.datetime, seed: int = 0) -> EvalContext:
        """A fixed clock and a seeded UUID sequence (reproducible runs)."""
        rng = random.Random(seed)
        return cls(clock=lambda: now, uuid_factory=lambda: _uuid.UUID(int=rng.getrandbits(128), version=4))


_DEFAULT_CONTEXT = EvalContext()

# --------------------------------------------------------------------------------------------------------------
# Syntax tree
# --------------------------------------------------------------------------------------------------------------

Segment = str | int  # a field name, a list index, or "*" (every element)


@dataclass(frozen=True)
class Literal:
    value: Any
    pos: int = 0


@dataclass(frozen=True)
class FieldRef:
    path: tuple[Segment, ...]
    pos: int = 0


@dataclass(frozen=True)
class Exists:
    """``contains_key("a.b")``: whether the path resolves to a non-null value."""

    ref: FieldRef
    pos: int = 0


@dataclass(frozen=True)
class ArrayLit:
    items: tuple[Any, ...]
    pos: int = 0


@dataclass(frozen=True)
class ObjectLit:
    pairs: tuple[tuple[str, Any], ...]
    pos: int = 0


@dataclass(frozen=True)
class Unary:
    op: str  # "not" | "neg"
    operand: Any
    pos: int = 0


@dataclass(frozen=True)
class Binary:
    op: str  # canonical symbol: || && == != < <= > >= + - * / %
    left: Any
    right: Any
    pos: int = 0


@dataclass(frozen=True)
class Ternary:
    cond: Any
    then: Any  # None for the elvis form ``a ?: b``
    other: Any
    pos: int = 0


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]
    pos: int = 0
    method: bool = False  # ``x.name(args)``: x is args[0]
    fn: F.Function | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Member:
    obj: Any
    name: str
    pos: int = 0


@dataclass(frozen=True)
class Index:
    obj: Any
    index: Any
    pos: int = 0


Expr = Literal | FieldRef | Exists | ArrayLit | ObjectLit | Unary | Binary | Ternary | Call | Member | Index


def _children(node: Expr) -> Iterator[Expr]:
    if isinstance(node, (ArrayLit,)):
        yield from node.items
    elif isinstance(node, ObjectLit):
        yield from (v for _, v in node.pairs)
    elif isinstance(node, Unary):
        yield node.operand
    elif isinstance(node, Binary):
        yield from (node.left, node.right)
    elif isinstance(node, Ternary):
        yield from (x for x in (node.cond, node.then, node.other) if x is not None)
    elif isinstance(node, Call):
        yield from node.args
    elif isinstance(node, Member):
        yield node.obj
    elif isinstance(node, Index):
        yield from (node.obj, node.index)


def walk(node: Expr) -> Iterator[Expr]:
    yield node
    for child in _children(node):
        yield from walk(child)


def path_text(path: tuple[Segment, ...]) -> str:
    """Canonical text of a field path: ``a.b``, ``emails[0].address``, ``items[*].sku``, ``street\\.name``."""
    out = ""
    for seg in path:
        if isinstance(seg, int):
            out += f"[{seg}]"
        elif seg == "*":
            out += "[*]"
        else:
            out += ("." if out else "") + seg.replace(".", "\\.")
    return out


def field_refs(expr: Expr | str) -> set[str]:
    """The source field paths an expression (text, tree or compiled) reads; ``contains_key`` probes are not
    counted."""
    if isinstance(expr, str):
        expr = parse(expr)
    return {path_text(node.path) for node in _field_nodes(getattr(expr, "ast", expr))}


def _field_nodes(expr: Expr) -> Iterator[FieldRef]:
    for node in walk(expr):
        if isinstance(node, FieldRef):
            yield node


# --------------------------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # num | str | lit | ident | name | op | reserved | eof
    value: Any
    pos: int  # 1-based column
    text: str


def _is_ident_start(c: str) -> bool:
    return c.isalpha() or c in "_$"


def _is_ident_char(c: str) -> bool:
    return c.isalnum() or c in "_$"


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        col = i + 1
        if c.isspace():
            i += 1
        elif c.isdigit():
            m = _NUMBER.match(text, i)
            if m is None:  # str.isdigit() also holds for characters that are not ASCII digits, such as "²"
                raise ExpressionError(f"unexpected character {c!r}", col)
            end = m.end()
            if end < n and (_is_ident_char(text[end]) or text[end] == "\\"):
                raise ExpressionError(f"invalid number '{text[i:end + 1]}'", col)
            raw = m.group(0)
            value: Any = int(raw) if m.group(1) is None and m.group(2) is None else float(raw)
            tokens.append(Token("num", value, col, raw))
            i = end
        elif c in "\"'":
            value, i = _read_string(text, i)
            tokens.append(Token("str", value, col, text[col - 1 : i]))
        elif c == "$" and i + 1 < n and text[i + 1] == "{":
            value, i = _read_wrapped(text, i)
            tokens.append(Token("name", value, col, text[col - 1 : i]))
        elif _is_ident_start(c):
            chars = []
            while i < n:
                ch = text[i]
                if _is_ident_char(ch):
                    chars.append(ch)
                    i += 1
                elif ch == "\\" and i + 1 < n and text[i + 1] == ".":
                    chars.append("\x00")  # an escaped dot, resolved below
                    i += 2
                elif ch == "\\":
                    raise ExpressionError("unexpected '\\'", i + 1)
                else:
                    break
            raw = "".join(chars)
            word = raw.replace("\x00", ".")
            if "\x00" in raw:
                tokens.append(Token("ident", word, col, text[col - 1 : i]))
            elif word in _WORD_OPERATORS:
                tokens.append(Token("op", _WORD_OPERATORS[word], col, word))
            elif word in _LITERAL_WORDS:
                tokens.append(Token("lit", _LITERAL_WORDS[word], col, word))
            elif word in RESERVED_WORDS:
                tokens.append(Token("reserved", word, col, word))
            else:
                tokens.append(Token("ident", word, col, word))
        elif text.startswith(_TWO_CHAR, i):
            tokens.append(Token("op", text[i : i + 2], col, text[i : i + 2]))
            i += 2
        elif c in _ONE_CHAR:
            tokens.append(Token("op", c, col, c))
            i += 1
        elif c == "=":
            raise ExpressionError("unexpected '=' (use '==' to compare)", col)
        else:
            raise ExpressionError(f"unexpected character {c!r}", col)
    tokens.append(Token("eof", None, n + 1, ""))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == quote:
            return "".join(out), i + 1
        if c == "\\":
            if i + 1 >= len(text):
                break
            nxt = text[i + 1]
            if nxt == "u":
                digits = text[i + 2 : i + 6]
                if len(digits) != 4 or not all(d in "0123456789abcdefABCDEF" for d in digits):
                    raise ExpressionError("invalid \\u escape", i + 1)
                out.append(chr(int(digits, 16)))
                i += 6
                continue
            # Known escapes are decoded; any other keeps its backslash (regular expressions such as "\d+").
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    raise ExpressionError("unterminated string", start + 1)


def _read_wrapped(text: str, start: int) -> tuple[str, int]:
    out: list[str] = []
    i = start + 2
    while i < len(text):
        c = text[i]
        if c == "}":
            if not out:
                raise ExpressionError("empty field name '${}'", start + 1)
            return "".join(out), i + 1
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "}\\":
            out.append(text[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    raise ExpressionError("unterminated '${'", start + 1)


# --------------------------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0  # open levels (sub-expressions and prefix operators): bounded by MAX_NESTING

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ExpressionError(_TOO_DEEP, self.tok.pos)

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def at(self, op: str) -> bool:
        return self.tok.kind == "op" and self.tok.value == op

    def expect(self, op: str) -> Token:
        if not self.at(op):
            self.fail()
        return self.advance()

    def fail(self, tok: Token | None = None) -> NoReturn:
        tok = tok or self.tok
        if tok.kind == "eof":
            raise ExpressionError("unexpected end of expression", tok.pos)
        if tok.kind == "reserved":
            raise ExpressionError(f"reserved word '{tok.value}' must be wrapped as ${{{tok.value}}}", tok.pos)
        raise ExpressionError(f"unexpected '{tok.text}'", tok.pos)

    def parse(self) -> Expr:
        if self.tok.kind == "eof":
            raise ExpressionError("empty expression", 1)
        node = self.expression()
        if self.tok.kind != "eof":
            self.fail()
        return node

    def expression(self) -> Expr:
        self.enter()
        try:
            return self._expression()
        finally:
            self.depth -= 1

    def _expression(self) -> Expr:
        cond = self.binary(1)
        if not self.at("?"):
            return cond
        pos = self.advance().pos
        if self.at(":"):
            self.advance()
            return Ternary(cond, None, self.expression(), pos)
        then = self.expression()
        self.expect(":")
        return Ternary(cond, then, self.expression(), pos)

    def binary(self, min_precedence: int) -> Expr:
        left = self.unary()
        while self.tok.kind == "op" and _BINARY_PRECEDENCE.get(self.tok.value, 0) >= min_precedence:
            op_tok = self.advance()
            right = self.binary(_BINARY_PRECEDENCE[op_tok.value] + 1)
            left = Binary(op_tok.value, left, right, op_tok.pos)
        return left

    def unary(self) -> Expr:
        if not (self.at("!") or self.at("-") or self.at("+")):
            return self.postfix(self.primary())
        self.enter()
        try:
            return self._prefixed()
        finally:
            self.depth -= 1

    def _prefixed(self) -> Expr:
        if self.at("!"):
            pos = self.advance().pos
            return Unary("not", self.unary(), pos)
        if self.at("-"):
            pos = self.advance().pos
            operand = self.unary()
            if isinstance(operand, Literal) and F.is_number(operand.value):
                return Literal(-operand.value, pos)
            return Unary("neg", operand, pos)
        self.advance()  # "+"
        return self.unary()

    def arguments(self, close: str) -> tuple[Expr, ...]:
        args: list[Expr] = []
        if self.at(close):
            self.advance()
            return ()
        while True:
            args.append(self.expression())
            if self.at(","):
                self.advance()
                continue
            self.expect(close)
            return tuple(args)

    def primary(self) -> Expr:
        tok = self.tok
        if tok.kind in ("num", "str", "lit"):
            self.advance()
            return Literal(tok.value, tok.pos)
        if tok.kind == "ident":
            self.advance()
            if self.at("("):
                if "." in tok.value:
                    raise ExpressionError("unexpected '('", self.tok.pos)
                self.advance()
                return Call(tok.value, self.arguments(")"), tok.pos)
            return FieldRef((tok.value,), tok.pos)
        if tok.kind == "name":
            self.advance()
            return FieldRef((tok.value,), tok.pos)
        if self.at("("):
            self.advance()
            node = self.expression()
            self.expect(")")
            return node
        if self.at("["):
            self.advance()
            return ArrayLit(self.arguments("]"), tok.pos)
        if self.at("{"):
            self.advance()
            return self.object_literal(tok.pos)
        self.fail()

    def object_literal(self, pos: int) -> ObjectLit:
        pairs: list[tuple[str, Expr]] = []
        if self.at("}"):
            self.advance()
            return ObjectLit((), pos)
        while True:
            key = self.tok
            if key.kind not in ("str", "ident", "name", "num"):
                self.fail()
            self.advance()
            self.expect(":")
            pairs.append((str(key.value), self.expression()))
            if self.at(","):
                self.advance()
                continue
            self.expect("}")
            return ObjectLit(tuple(pairs), pos)

    def postfix(self, node: Expr) -> Expr:
        while True:
            if self.at("."):
                self.advance()
                name = self.tok
                if name.kind not in ("ident", "name"):
                    self.fail()
                self.advance()
                if name.kind == "ident" and self.at("("):
                    self.advance()
                    node = Call(name.value, (node, *self.arguments(")")), name.pos, method=True)
                elif isinstance(node, FieldRef):
                    node = FieldRef(node.path + (name.value,), node.pos)
                else:
                    node = Member(node, name.value, name.pos)
            elif self.at("["):
                pos = self.advance().pos
                if self.at("*"):
                    self.advance()
                    self.expect("]")
                    if not isinstance(node, FieldRef):
                        raise ExpressionError("'[*]' applies only to field paths", pos)
                    node = FieldRef(node.path + ("*",), node.pos)
                    continue
                index = self.expression()
                self.expect("]")
                if isinstance(node, FieldRef) and isinstance(index, Literal) and (
                    (isinstance(index.value, int) and not isinstance(index.value, bool)) or isinstance(index.value, str)
                ):
                    node = FieldRef(node.path + (index.value,), node.pos)
                else:
                    node = Index(node, index, pos)
            else:
                return node


def parse(text: str) -> Expr:
    """Parse an expression into its syntax tree (raises ExpressionError, also for nesting past MAX_NESTING)."""
    if not isinstance(text, str):
        raise ExpressionError("expression must be a string")
    node = _Parser(text).parse()
    _check_depth(node)
    return node


def _check_depth(root: Expr) -> None:
    """Operator and postfix chains (``a + b + ...``, ``x.f().g()...``) nest the tree without nesting the text;
    the evaluators recurse on the tree, so its depth has the same bound (checked without recursion)."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ExpressionError(_TOO_DEEP, node.pos or 1)
        stack.extend((child, depth + 1) for child in _children(node))


def parse_path(text: str) -> tuple[Segment, ...]:
    """Parse a source field path (``a.b[0].c``, ``${First Name}``, ``street\\.name``)."""
    node = parse(text)
    if not isinstance(node, FieldRef):
        raise ExpressionError(f"'{text}' is not a field path", 1)
    return node.path


# --------------------------------------------------------------------------------------------------------------
# Compilation: bind functions, validate, analyse vectorisation
# --------------------------------------------------------------------------------------------------------------


def _bind(node: Expr) -> Expr:
    if isinstance(node, Call):
        table, kind = (F.METHODS, "method") if node.method else (F.FUNCTIONS, "function")
        fn = table.get(node.name)
        if fn is None:
            raise ExpressionError(f"unknown {kind} '{node.name}'", node.pos)
        count = len(node.args)
        if count < fn.min_args or (fn.max_args is not None and count > fn.max_args):
            shift = 1 if node.method else 0
            expected = replace(fn, min_args=fn.min_args - shift,
                               max_args=None if fn.max_args is None else fn.max_args - shift).arity_text()
            raise ExpressionError(f"{kind} '{node.name}' takes {expected}, got {count - shift}", node.pos)
        if fn.name in ("contains_key", "is_set"):
            arg = node.args[0]
            if not (isinstance(arg, Literal) and isinstance(arg.value, str)):
                raise ExpressionError(f"{node.name} expects a string literal path", node.pos)
            try:
                return Exists(FieldRef(parse_path(arg.value), arg.pos), node.pos)
            except ExpressionError as exc:
                raise ExpressionError(f"invalid path in {node.name}: {exc}", node.pos) from None
        if not node.method:
            _check_pattern(node)
        return replace(node, args=tuple(_bind(a) for a in node.args), fn=fn)
    if isinstance(node, ArrayLit):
        return replace(node, items=tuple(_bind(a) for a in node.items))
    if isinstance(node, ObjectLit):
        return replace(node, pairs=tuple((k, _bind(v)) for k, v in node.pairs))
    if isinstance(node, Unary):
        return replace(node, operand=_bind(node.operand))
    if isinstance(node, Binary):
        return replace(node, left=_bind(node.left), right=_bind(node.right))
    if isinstance(node, Ternary):
        return replace(node, cond=_bind(node.cond), then=None if node.then is None else _bind(node.then),
                       other=_bind(node.other))
    if isinstance(node, Member):
        return replace(node, obj=_bind(node.obj))
    if isinstance(node, Index):
        return replace(node, obj=_bind(node.obj), index=_bind(node.index))
    return node


def _check_pattern(node: Call) -> None:
    """A regular expression given as a string literal must compile (RE2, see :mod:`.functions.regex`)."""
    i = PATTERN_ARGUMENTS.get(node.name)
    arg = node.args[i] if i is not None and i < len(node.args) else None
    if isinstance(arg, Literal) and isinstance(arg.value, str):
        try:
            compile_pattern(arg.value)
        except EvaluationError as exc:
            raise ExpressionError(f"{node.name}: {exc}", arg.pos) from None


def _is_constant(node: Expr) -> bool:
    """No field reads and no per-row values: evaluated once per batch."""
    for n in walk(node):
        if isinstance(n, (FieldRef, Exists)) or (isinstance(n, Call) and n.fn is not None and n.fn.volatile):
            return False
    return True


def _row_fallbacks(node: Expr) -> set[str]:
    """Names of the constructs the Arrow evaluator will run row by row."""
    if _is_constant(node):
        return set()
    out: set[str] = set()
    if isinstance(node, Call) and node.fn is not None and node.fn.vec is None:
        out.add(node.name)
    elif isinstance(node, ArrayLit):
        out.add("[...] literal")
    elif isinstance(node, ObjectLit):
        out.add("{...} literal")
    elif isinstance(node, Index) and not _is_constant(node.index):
        out.add("[] index")
    for child in _children(node):
        out |= _row_fallbacks(child)
    return out


@dataclass(frozen=True)
class CompiledExpression:
    """A validated expression, ready to evaluate on a row or an Arrow batch."""

    text: str
    ast: Expr
    #: constructs evaluated row by row in ``evaluate_arrow`` (empty when fully vectorised)
    row_fallbacks: frozenset[str]

    @property
    def vectorised(self) -> bool:
        """True when ``evaluate_arrow`` uses only Arrow kernels and batched column passes."""
        return not self.row_fallbacks

    @property
    def field_refs(self) -> set[str]:
        return field_refs(self.ast)

    def evaluate_row(self, row: dict | None = None, ctx: EvalContext | None = None) -> Any:
        """Evaluate on one source record (nested dicts); raises EvaluationError when the row fails."""
        return _RowEvaluator(row or {}, ctx or _DEFAULT_CONTEXT).eval(self.ast)

    def evaluate_arrow(
        self, table: pa.Table | pa.RecordBatch, ctx: EvalContext | None = None
    ) -> tuple[pa.Array, list[tuple[int, str]]]:
        """Evaluate on every row: (values, [(row_index, message)]); failed rows are null."""
        n = table.num_rows
        value, errors = _ArrowEvaluator(table, ctx or _DEFAULT_CONTEXT).eval(self.ast)
        if isinstance(value, F.Rows) and errors:  # failed rows do not decide the column's type
            value = F.Rows([None if i in errors else v for i, v in enumerate(value.values)])
        result = F.as_array(value, n)
        if isinstance(result, pa.ChunkedArray):
            result = result.combine_chunks()
        if errors and not pa.types.is_null(result.type):
            mask = np.zeros(n, dtype=bool)
            mask[list(errors)] = True
            result = pc.if_else(pa.array(mask), pa.scalar(None, result.type), result)
        return result, sorted(errors.items())


def compile_expression(text: str) -> CompiledExpression:
    """Parse and validate (function names, arities, literal paths, constant arguments against the limits);
    raises ExpressionError."""
    if isinstance(text, str) and len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    ast = _bind(parse(text))
    _check_constants(ast, _DEFAULT_CONTEXT)
    return CompiledExpression(text, ast, frozenset(_row_fallbacks(ast)))


_NOT_CONSTANT = object()


def _check_constants(node: Expr, ctx: EvalContext) -> Any:
    """Evaluate what does not depend on the row, bottom-up: a call that breaks a limit with constant arguments
    (a pad COUNT past the longest string, a result past it) is a compile error at its column. Returns the node's
    constant value, or _NOT_CONSTANT."""
    values = [_check_constants(child, ctx) for child in _children(node)]
    if isinstance(node, Literal):
        return node.value
    if not isinstance(node, Call) or node.fn is None:
        return _NOT_CONSTANT if not _is_constant(node) or _NOT_CONSTANT in values else _evaluate_quietly(node, ctx)
    if node.fn.check is not None:  # arguments a function validates as soon as they are known (a pad COUNT)
        try:
            node.fn.check([F.UNKNOWN if v is _NOT_CONSTANT else v for v in values])
        except EvaluationError as exc:
            raise ExpressionError(_message(node.fn, exc), node.pos) from None
    try:
        if node.fn.volatile or _NOT_CONSTANT in values:
            return _NOT_CONSTANT
        return invoke(node.fn, ctx, list(values))
    except F.LimitError as exc:
        raise ExpressionError(_message(node.fn, exc), node.pos) from None
    except EvaluationError:
        return _NOT_CONSTANT  # a row error, reported when rows are evaluated


def _evaluate_quietly(node: Expr, ctx: EvalContext) -> Any:
    try:
        return _RowEvaluator({}, ctx).eval(node)
    except F.LimitError as exc:  # an operator: ``lpad("a", 999999) + lpad("b", 999999)``
        raise ExpressionError(str(exc), node.pos) from None
    except EvaluationError:
        return _NOT_CONSTANT


def compile_path(path: tuple[Segment, ...], text: str | None = None) -> CompiledExpression:
    """A compiled expression that reads one source field (ATTRIBUTE mappings)."""
    node = FieldRef(tuple(path), 1)
    return CompiledExpression(text if text is not None else path_text(path), node, frozenset())


def compile_constant(value: Any) -> CompiledExpression:
    """A compiled expression that yields one value for every row (STATIC mappings)."""
    return CompiledExpression(F.to_str(value) or "", Literal(value, 1), frozenset())


# --------------------------------------------------------------------------------------------------------------
# Row evaluation
# --------------------------------------------------------------------------------------------------------------


def _message(fn: F.Function, exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{fn.label}: {text}" if fn.label else text


def invoke(fn: F.Function, ctx: EvalContext, args: list) -> Any:
    """Call a function's row implementation; any failure becomes an EvaluationError naming the function, and so
    does a string result past MAX_STRING_LENGTH."""
    try:
        result = fn.row(ctx, *args)
    except F.LimitError as exc:
        raise F.LimitError(_message(fn, exc)) from None
    except _ROW_ERRORS as exc:
        raise EvaluationError(_message(fn, exc)) from None
    except RecursionError:  # a value nested past what Python can walk (source data, not expressions)
        raise EvaluationError(_message(fn, ValueError("the value is nested too deeply"))) from None
    if type(result) is str and len(result) > F.MAX_STRING_LENGTH:
        raise F.LimitError(_message(fn, F.too_long(len(result))))
    return result


def resolve_path(value: Any, path: tuple[Segment, ...]) -> Any:
    """Read a path from nested dicts/lists; at each object level the longest dotted key present wins."""
    i = 0
    while i < len(path):
        if value is None:
            return None
        seg = path[i]
        if seg == "*":
            if not isinstance(value, (list, tuple)):
                return None
            return [resolve_path(x, path[i + 1 :]) for x in value]
        if isinstance(seg, int):
            if not isinstance(value, (list, tuple)) or not -len(value) <= seg < len(value):
                return None
            value = value[seg]
            i += 1
            continue
        if not isinstance(value, dict):
            return None
        run = _name_run(path, i)
        # the run holds str segments only (_name_run); no cast() call on this per-row path
        for k in range(run, 0, -1):
            key = ".".join(path[i : i + k])  # type: ignore[arg-type]
            if key in value:
                value = value[key]
                i += k
                break
        else:
            return None
    return value


def _name_run(path: tuple[Segment, ...], start: int) -> int:
    k = 0
    while start + k < len(path) and isinstance(path[start + k], str) and path[start + k] != "*":
        k += 1
    return k


class _RowEvaluator:
    def __init__(self, row: dict, ctx: EvalContext) -> None:
        self.row = row
        self.ctx = ctx

    def eval(self, node: Expr) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, FieldRef):
            return resolve_path(self.row, node.path)
        if isinstance(node, Call):
            assert node.fn is not None  # compile_expression binds every call (_bind)
            return invoke(node.fn, self.ctx, [self.eval(a) for a in node.args])
        if isinstance(node, Binary):
            if node.op == "&&":
                return F.truthy(self.eval(node.left)) and F.truthy(self.eval(node.right))
            if node.op == "||":
                return F.truthy(self.eval(node.left)) or F.truthy(self.eval(node.right))
            return invoke(F.OPERATORS[node.op], self.ctx, [self.eval(node.left), self.eval(node.right)])
        if isinstance(node, Unary):
            return invoke(F.OPERATORS[node.op], self.ctx, [self.eval(node.operand)])
        if isinstance(node, Ternary):
            cond = self.eval(node.cond)
            if node.then is None:
                return cond if F.truthy(cond) else self.eval(node.other)
            return self.eval(node.then) if F.truthy(cond) else self.eval(node.other)
        if isinstance(node, Exists):
            return resolve_path(self.row, node.ref.path) is not None
        if isinstance(node, ArrayLit):
            return [self.eval(a) for a in node.items]
        if isinstance(node, ObjectLit):
            return {k: self.eval(v) for k, v in node.pairs}
        if isinstance(node, Member):
            return invoke(F.METHODS["get"], self.ctx, [self.eval(node.obj), node.name])
        if isinstance(node, Index):
            return invoke(F.METHODS["get"], self.ctx, [self.eval(node.obj), self.eval(node.index)])
        raise TypeError(f"unknown node {node!r}")


# --------------------------------------------------------------------------------------------------------------
# Arrow evaluation
# --------------------------------------------------------------------------------------------------------------

Errors = dict  # row index -> message (the first failure in evaluation order wins)


def _merge(target: Errors, extra: Errors, keep: np.ndarray | None = None) -> Errors:
    for i, message in extra.items():
        if keep is None or keep[i]:
            target.setdefault(i, message)
    return target


class _ArrowEvaluator:
    def __init__(self, table: pa.Table | pa.RecordBatch, ctx: EvalContext) -> None:
        self.table = table
        self.n = table.num_rows
        self.ctx = ctx
        self.names = set(table.column_names)
        self.columns: dict[str, pa.Array] = {}

    # -- fields -------------------------------------------------------------------------------------------------

    def column(self, name: str) -> pa.Array:
        if name not in self.columns:
            col = self.table.column(name)
            col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
            if pa.types.is_dictionary(col.type):  # Parquet/CSV readers may dictionary-encode strings
                col = col.dictionary_decode()
            self.columns[name] = col
        return self.columns[name]

    def field(self, path: tuple[Segment, ...]) -> Any:
        for k in range(_name_run(path, 0), 0, -1):
            name = ".".join(cast("tuple[str, ...]", path[:k]))  # _name_run counts str segments only
            if name in self.names:
                return self.descend(self.column(name), path[k:])
        return Const(None)

    def descend(self, arr: pa.Array, path: tuple[Segment, ...]) -> Any:
        i = 0
        while i < len(path):
            seg, t = path[i], arr.type
            is_list = pa.types.is_list(t) or pa.types.is_large_list(t)
            if seg == "*":
                if not is_list:
                    return Const(None)
                flat = pc.list_flatten(arr)
                inner = self.descend(flat, path[i + 1 :])
                inner = F.as_array(inner, len(flat))
                lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False)
                offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
                return pa.ListArray.from_arrays(pa.array(offsets), inner, mask=pc.is_null(arr))
            if isinstance(seg, int):
                if not is_list:
                    return Const(None)
                arr = F.list_take(arr, seg)
                i += 1
                continue
            if not pa.types.is_struct(t):
                return Const(None)
            run = _name_run(path, i)
            for k in range(run, 0, -1):
                name = ".".join(cast("tuple[str, ...]", path[i : i + k]))  # _name_run counts str segments only
                if t.get_field_index(name) >= 0:
                    arr = pc.struct_field(arr, name)
                    i += k
                    break
            else:
                return Const(None)
        return arr

    # -- nodes --------------------------------------------------------------------------------------------------

    def eval(self, node: Expr) -> tuple[Any, Errors]:
        if isinstance(node, Literal):
            return Const(node.value), {}
        if isinstance(node, FieldRef):
            return self.field(node.path), {}
        if isinstance(node, Call):
            assert node.fn is not None  # compile_expression binds every call (_bind)
            return self.apply(node.fn, [self.eval(a) for a in node.args])
        if isinstance(node, Binary):
            if node.op in ("&&", "||"):
                return self.logical(node)
            return self.apply(F.OPERATORS[node.op], [self.eval(node.left), self.eval(node.right)])
        if isinstance(node, Unary):
            return self.apply(F.OPERATORS[node.op], [self.eval(node.operand)])
        if isinstance(node, Ternary):
            return self.ternary(node)
        if isinstance(node, Exists):
            value = self.field(node.ref.path)
            if isinstance(value, Const):
                return Const(value.value is not None), {}
            return pc.is_valid(value), {}
        if isinstance(node, ArrayLit):
            return self.literal([self.eval(a) for a in node.items], list)
        if isinstance(node, ObjectLit):
            keys = [k for k, _ in node.pairs]
            return self.literal([self.eval(v) for _, v in node.pairs], lambda vals: dict(zip(keys, vals)))
        if isinstance(node, Member):
            return self.apply(F.METHODS["get"], [self.eval(node.obj), (Const(node.name), {})])
        if isinstance(node, Index):
            return self.apply(F.METHODS["get"], [self.eval(node.obj), self.eval(node.index)])
        raise TypeError(f"unknown node {node!r}")

    def apply(self, fn: F.Function, evaluated: list[tuple[Any, Errors]]) -> tuple[Any, Errors]:
        values = [v for v, _ in evaluated]
        errors: Errors = {}
        for _, e in evaluated:
            _merge(errors, e)
        if all(isinstance(v, Const) for v in values) and not fn.volatile:
            try:
                return Const(invoke(fn, self.ctx, [v.value for v in values])), errors
            except EvaluationError as exc:
                return Const(None), _merge(errors, {i: str(exc) for i in range(self.n)})
        if fn.vec is not None and not any(isinstance(v, F.Rows) for v in values):
            try:
                out = fn.vec(self.ctx, self.n, *values)
            except (Fallback, EvaluationError, *_ARROW_ERRORS):
                out = None
            if out is not None:
                value, extra = out if isinstance(out, tuple) else (out, {})
                if isinstance(value, Const) and type(value.value) is str and len(value.value) > F.MAX_STRING_LENGTH:
                    value, extra = Const(None), {i: str(F.too_long(len(value.value))) for i in range(self.n)}
                else:
                    over = F.over_length(value)
                    if over:  # no later call works on them (the row evaluator stops at the error)
                        mask = np.zeros(self.n, dtype=bool)
                        mask[list(over)] = True
                        value = pc.if_else(pa.array(mask), pa.scalar(None, value.type), value)
                    extra = {**over, **extra}
                for i, message in extra.items():
                    errors.setdefault(i, f"{fn.label}: {message}" if fn.label else message)
                return value, errors
        return self.rowwise(lambda args: invoke(fn, self.ctx, args), values, errors)

    def rowwise(self, compute: Callable[[list], Any], values: list, errors: Errors) -> tuple[Any, Errors]:
        columns = [None if isinstance(v, Const) else F.to_pylist(v, self.n) for v in values]
        out: list[Any] = [None] * self.n
        for i in range(self.n):
            if i in errors:
                continue  # an argument already failed: the row evaluator would not have called this
            args = [v.value if col is None else col[i] for v, col in zip(values, columns)]
            try:
                out[i] = compute(args)
            except EvaluationError as exc:
                errors[i] = str(exc)
        return F.from_python(out), errors

    def literal(self, evaluated: list[tuple[Any, Errors]], build: Callable[[list], Any]) -> tuple[Any, Errors]:
        values = [v for v, _ in evaluated]
        errors: Errors = {}
        for _, e in evaluated:
            _merge(errors, e)
        if all(isinstance(v, Const) for v in values):
            return Const(build([v.value for v in values])), errors
        return self.rowwise(build, values, errors)

    def logical(self, node: Binary) -> tuple[Any, Errors]:
        is_and = node.op == "&&"
        left, errors = self.eval(node.left)
        lt = F.truthy_array(left, self.n)
        if isinstance(lt, Const):
            if lt.value != is_and:  # false && ..., true || ...
                return Const(lt.value), errors
            right, right_errors = self.eval(node.right)
            return F.truthy_array(right, self.n), _merge(errors, right_errors)
        right, right_errors = self.eval(node.right)
        rt = F.as_array(F.truthy_array(right, self.n), self.n)
        mask = lt.to_numpy(zero_copy_only=False)
        _merge(errors, right_errors, mask if is_and else ~mask)
        return (pc.and_(lt, rt) if is_and else pc.or_(lt, rt)), errors

    def ternary(self, node: Ternary) -> tuple[Any, Errors]:
        cond, errors = self.eval(node.cond)
        ct = F.truthy_array(cond, self.n)
        if isinstance(ct, Const):
            if ct.value:
                chosen, chosen_errors = (cond, {}) if node.then is None else self.eval(node.then)
            else:
                chosen, chosen_errors = self.eval(node.other)
            return chosen, _merge(errors, chosen_errors)
        then, then_errors = (cond, {}) if node.then is None else self.eval(node.then)
        other, other_errors = self.eval(node.other)
        mask = ct.to_numpy(zero_copy_only=False)
        _merge(errors, then_errors, mask)
        _merge(errors, other_errors, ~mask)
        try:
            a, b = F.unify([then, other], self.n)
            return pc.if_else(ct, a, b), errors
        except (Fallback, *_ARROW_ERRORS):
            picked = [x if m else y for x, y, m in
                      zip(F.to_pylist(then, self.n), F.to_pylist(other, self.n), mask)]
            return F.from_python(picked), errors
