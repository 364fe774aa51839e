"""Cell bodies: JSON or YAML request payloads with ``{{name}}`` references into the notebook's namespace.

``{{src.id}}``, ``{{cfg.table}}``, ``{{schema["$id"]}}`` and ``{{rows[0]}}`` name a variable followed by attributes,
keys or indexes (evaluated step by step, never with ``eval``). Anything else between braces, JSON's own ``{`` and
``}`` included, is left alone.

A reference reads data; it runs no code of the objects it walks through:

- ``[key]`` reads a dict's key, a list's, tuple's or string's index, and the items of the kit's own results
  (``{{runs[-1].id}}``, ``{{made["id"]}}``); other containers (a DataFrame, a custom mapping) are refused;
- ``.name`` reads a dict's key (``{{cfg.table}}``), an attribute the object holds as plain data (set on the
  instance, or a plain class attribute), and any attribute of the kit's own objects (``{{flow.etag}}``,
  ``{{runs[0].batch_ids}}``): the kit's properties are its own code. A property or method of any other object is
  refused: its getter could do anything; put the value in a variable first;
- a name starting with ``_`` (``{{x.__class__}}``, ``{{_secret}}``) is refused: private, never data to send;
- a :class:`~aep_magics.auth.Secret` is refused wherever it is reached: the kit does not put a secret into a body
  it shows (``--dry-run``, ``--curl``, the result's ``.request``); write the value into the cell yourself, or read it
  into a plain variable (``os.environ[...]``), if it must be sent.

Values never pass through the JSON/YAML parser, so no value can break or inject into the body: every reference is
swapped for an inert sentinel, the text is parsed, and the sentinels are then replaced in the parsed data. A
reference standing alone as a value (``"mappingVersion": {{m.version}}``) keeps the value's type; inside a string
(``"name": "Orders of {{shop}}"``) it becomes text, exactly as written. A result object (``{{src}}``) stands for its
id.

A body whose first character is ``{`` or ``[`` is JSON (strict: a trailing comma is an error); anything else is YAML
(``yes``/``no``/``on``/``off`` and dates stay strings). Errors name the line and column in the cell body.
"""

from __future__ import annotations

import inspect
import json
import keyword
import re
import secrets
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InputError

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_STEP = r"""(?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*|\s*\[\s*(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|-?\d+)\s*\])"""
PLACEHOLDER = re.compile(r"\{\{\s*(" + _NAME + _STEP + r"*)\s*\}\}")
#: ``{{ref`` not closed by ``}}``: the reference is followed by one ``}``, a quote or the end of the line.
UNCLOSED = re.compile(r"\{\{\s*(" + _NAME + _STEP + r"*)\s*(?:\}(?!\})|(?=[\"'\n]|$))")
_STEP_RE = re.compile(
    r"""\s*(?:\.\s*(?P<attr>[A-Za-z_][A-Za-z0-9_]*)|\[\s*(?:(?P<dq>"(?:[^"\\\n]|\\.)*")|(?P<sq>'(?:[^'\\\n]|\\.)*')"""
    r"""|(?P<index>-?\d+))\s*\])"""
)


# -- references -----------------------------------------------------------------------------------------------


def resolve(expr: str, namespace: Mapping[str, Any]) -> Any:
    """The value of a reference such as ``src.id`` or ``schema["$id"]`` in ``namespace``.

    Attributes fall back to keys on mappings (``{{cfg.table}}`` works for a dict ``cfg``). What may be read is in the module docstring.
    """
    head = re.match(_NAME, expr)
    assert head is not None
    name = head.group(0)
    _public(name, expr)
    if name not in namespace:
        raise InputError(f"{{{{{expr}}}}}: there is no variable named {name!r} in the notebook")
    value = namespace[name]
    where = name
    for step in _STEP_RE.finditer(expr, head.end()):
        _no_secret(value, expr, where)
        if step.group("attr") is not None:
            attr = step.group("attr")
            _public(attr, expr)
            value = _attribute(value, attr, expr, where)
            where += f".{attr}"
        else:
            if step.group("index") is not None:
                key: Any = int(step.group("index"))
            else:
                quoted = step.group("dq") or step.group("sq") or ""
                key = _unquote(quoted)
            value = _item(value, key, expr, where)
            where += f"[{key!r}]"
    _no_secret(value, expr, where)
    return value


def _public(name: str, expr: str) -> None:
    if name.startswith("_"):
        raise InputError(f"{{{{{expr}}}}}: {name!r} starts with _: private names are not read inside {{{{ }}}}")


def _no_secret(value: Any, expr: str, where: str) -> None:
    from ..auth import Secret

    if isinstance(value, Secret):
        raise InputError(f"{{{{{expr}}}}}: {where} is a Secret, and the kit refuses to put a secret into a request "
                         "body or line; pass the value as a plain variable if it must be sent")


def _is_kit(value: Any) -> bool:
    """An object of the kit's own classes (results, runs, the clock …), whose properties are the kit's code."""
    module = type(value).__module__ or ""
    return module.startswith("aep_magics.") and not module.startswith("aep_magics.local")


def _attribute(value: Any, attr: str, expr: str, where: str) -> Any:
    """``value.attr`` without running any code of ``value``, unless it is one of the kit's own objects."""
    if isinstance(value, dict) and not _is_kit(value) and dict.__contains__(value, attr):
        return dict.__getitem__(value, attr)
    if _is_kit(value):
        try:
            found = getattr(value, attr)
        except AttributeError:
            found = _MISSING
    else:
        found = inspect.getattr_static(value, attr, _MISSING)
        if found is not _MISSING and hasattr(type(found), "__get__"):
            if not isinstance(found, _BUILTIN_DESCRIPTORS):
                raise InputError(f"{{{{{expr}}}}}: {attr!r} of {where} ({type(value).__name__}) is computed by code "
                                 "(a property or method), which {{ }} does not run: put the value in a variable first")
            found = getattr(value, attr)  # a slot or a C-level field: reading it runs no Python code
    if found is _MISSING:
        if isinstance(value, dict) and dict.__contains__(value, attr):
            return dict.__getitem__(value, attr)
        raise InputError(f"{{{{{expr}}}}}: {where} ({type(value).__name__}) has no attribute {attr!r}")
    if callable(found) and not isinstance(found, type):
        raise InputError(f"{{{{{expr}}}}}: {attr!r} of {where} ({type(value).__name__}) is a method, not a value")
    return found


def _item(value: Any, key: Any, expr: str, where: str) -> Any:
    """``value[key]`` for dicts, lists, tuples, strings and the kit's own results; no other ``__getitem__`` runs."""
    missing = InputError(f"{{{{{expr}}}}}: {where} ({type(value).__name__}) has no item [{key!r}]")
    if isinstance(value, dict):
        if not isinstance(key, (str, int)) or not dict.__contains__(value, key):
            raise missing
        return dict.__getitem__(value, key)
    for kind in (list, tuple, str):
        if isinstance(value, kind):
            if not isinstance(key, int) or not -len(value) <= key < len(value):
                raise missing
            return kind.__getitem__(value, key)  # type: ignore[index]
    if _is_kit(value):
        try:
            return value[key]
        except (KeyError, IndexError, TypeError):
            raise missing from None
    raise InputError(f"{{{{{expr}}}}}: {where} is a {type(value).__name__}; inside {{{{ }}}}, [...] reads dicts, lists "
                     "and the kit's results only: put the value in a variable first")


_MISSING = object()
#: Descriptors implemented in C that read a stored field (``__slots__`` members, e.g. ``datetime.year``).
_BUILTIN_DESCRIPTORS = (types.MemberDescriptorType, types.GetSetDescriptorType)


def _unquote(quoted: str) -> str:
    if quoted.startswith('"'):
        return json.loads(quoted)
    inner = quoted[1:-1]
    return re.sub(r"\\(.)", r"\1", inner)


def as_json_value(value: Any, expr: str) -> Any:
    """``value`` as plain JSON data (results become their id; a secret is refused)."""
    value = _unwrap(value, expr)
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(k): as_json_value(v, expr) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json_value(v, expr) for v in value]
    numeric = (type(value).__module__ or "").split(".")[0] in ("numpy", "pandas")
    for convert in ("item", "tolist") if numeric else ():  # numpy scalars and arrays, pandas Series
        method = getattr(value, convert, None)
        if callable(method):
            try:
                return as_json_value(method(), expr)
            except (TypeError, ValueError):
                pass
    raise InputError(f"{{{{{expr}}}}} is a {type(value).__name__}, which has no JSON form")


def as_text(value: Any, expr: str) -> str:
    """``value`` as it reads inside a string: text as is, anything else as JSON (``true``, ``12``, ``[1, 2]``)."""
    value = as_json_value(value, expr)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _unwrap(value: Any, expr: str = "") -> Any:
    _no_secret(value, expr, "the value")
    if not _is_kit(value):
        return value
    reference = getattr(value, "__aep_reference__", None)  # result objects stand for their id
    if callable(reference):
        return reference()
    return value


def interpolate_text(
    text: str, namespace: Mapping[str, Any], quote: Callable[[str], str] | None = None
) -> str:
    """Replace every ``{{ref}}`` in a plain string (a magic's argument) with its text; ``quote`` escapes it."""

    def sub(match: re.Match[str]) -> str:
        value = as_text(resolve(match.group(1), namespace), match.group(1))
        return quote(value) if quote else value

    unclosed = _unclosed(text, list(PLACEHOLDER.finditer(text)))
    if unclosed is not None:
        raise InputError(f"unclosed reference {{{{{unclosed.group(1)} in {text!r}: close it as {{{{{unclosed.group(1)}}}}}")
    return PLACEHOLDER.sub(sub, text)


#: ``{{ref}}`` (kept for :func:`interpolate_text`) or ``{expr}`` (an IPython-style expansion).
_BRACES = re.compile(r"\{\{.*?\}\}|\{([^{}]+)\}")
#: ``{expr}`` that is a plain reference (``flow.id``, ``runs[0].id``, ``cfg["table"]``): it must resolve.
_REFERENCE = re.compile(r"\s*(" + _NAME + _STEP + r"*)\s*")


def expand_braces(text: str, namespace: Mapping[str, Any], quote: Callable[[str], str] | None = None) -> str:
    """A magic's argument with ``{{ref}}`` filled in as :func:`interpolate_text` does, and ``{expr}`` evaluated in the
    notebook's namespace as IPython expands line magics (``%aep_runs {flow.id}``). One pass: a value is never
    expanded again; ``quote`` escapes each value (a URL path segment).

    ``{name.attr}``, ``{name[0]}``, ``{name["key"]}`` are references: resolved like ``{{ }}`` (attributes fall back to
    keys, a result stands for its id) and an unknown name is an error that names it, never a call with ``{flow.id}``
    in a URL. Any other expression is evaluated; one that fails, or gives a dict or a set, is left as written (as
    IPython leaves it), and so is JSON (``{"a": 1}``)."""

    def value_text(value: Any, expr: str, reference: bool) -> str:
        """A reference reads as in ``{{ }}`` (text as is, other data as JSON); an expression as IPython shows it."""
        value = _unwrap(value, expr)
        text = None
        if reference:
            try:
                text = as_text(value, expr)
            except InputError:  # an object with no JSON form: its str(), as IPython shows it
                pass
        text = str(value) if text is None else text
        return quote(text) if quote else text

    def sub(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return interpolate_text(match.group(0), namespace, quote)
        expr = match.group(1)
        reference = _REFERENCE.fullmatch(expr)
        head = re.match(_NAME, reference.group(1)) if reference is not None else None
        if reference is not None and head is not None and not keyword.iskeyword(head.group(0)):
            try:
                return value_text(resolve(reference.group(1), namespace), reference.group(1), True)
            except InputError as exc:  # "{flow.id}: there is no variable named 'flow' in the notebook"
                raise InputError(f"{{{reference.group(1)}}}: {str(exc).split(': ', 1)[-1]}") from None
        if _is_json(match.group(0)):
            return match.group(0)
        try:
            value = eval(expr, {}, dict(namespace))  # noqa: S307 - the notebook's own code, as IPython runs it
        except Exception:
            return match.group(0)
        if isinstance(value, (dict, set, frozenset)):
            return match.group(0)
        return value_text(value, expr, False)

    if _unclosed(text, list(PLACEHOLDER.finditer(text))) is not None:
        return interpolate_text(text, namespace)  # its error names the reference
    return _BRACES.sub(sub, text)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _unclosed(text: str, matches: list[re.Match[str]]) -> re.Match[str] | None:
    """The first ``{{ref`` that lacks its ``}}`` (outside every complete reference), or None."""
    for found in UNCLOSED.finditer(text):
        if not any(m.start() <= found.start() < m.end() for m in matches):
            return found
    return None


# -- bodies ---------------------------------------------------------------------------------------------------


@dataclass
class _Slot:
    expr: str
    typed: bool  # stands alone as a value: keeps its type
    new_start: int
    new_end: int
    old_start: int
    old_end: int


def parse_body(text: str, namespace: Mapping[str, Any] | None = None) -> Any:
    """Parse a cell body (JSON or YAML) and fill in its ``{{references}}``; None for an empty body."""
    if text.lstrip().startswith("\ufeff"):  # a byte-order mark pasted with the body: not part of it
        text = text.replace("\ufeff", "", 1)
    if not text.strip():
        return None
    namespace = namespace if namespace is not None else {}
    is_json = text.lstrip()[:1] in ("{", "[")
    nonce = secrets.token_hex(4)
    matches = list(PLACEHOLDER.finditer(text))
    unclosed = _unclosed(text, matches)
    if unclosed is not None:
        line, col = _where(text, unclosed.start())
        raise InputError(f"unclosed reference {{{{{unclosed.group(1)} at line {line}, column {col} of the cell body: "
                         f"close it as {{{{{unclosed.group(1)}}}}}")
    values = {m.group(1): None for m in matches}
    for expr in values:  # resolve first: an unknown name is reported before any syntax problem further down
        values[expr] = resolve(expr, namespace)
    in_string = _json_string_flags(text, matches) if is_json else [_yaml_quoted(text, m) for m in matches]

    pieces: list[str] = []
    slots: dict[str, _Slot] = {}
    old = new = 0
    for i, (match, quoted) in enumerate(zip(matches, in_string)):
        pieces.append(text[old : match.start()])
        new += match.start() - old
        token = f"__aep{nonce}_{i}__"
        typed = not quoted
        replacement = f'"{token}"' if (is_json and typed) else token
        slots[token] = _Slot(match.group(1), typed, new, new + len(replacement), match.start(), match.end())
        pieces.append(replacement)
        new += len(replacement)
        old = match.end()
    pieces.append(text[old:])
    prepared = "".join(pieces)

    try:
        data = json.loads(prepared) if is_json else _load_yaml(prepared)
    except json.JSONDecodeError as exc:
        line, col = _where(text, _old_offset(exc.pos, slots.values()))
        raise InputError(f"Malformed JSON in the cell body at line {line}, column {col}: {exc.msg}"
                         f"{_hint(text, line, col, exc.msg)}") from None
    except _yaml_error() as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if mark is None:
            raise InputError(f"Malformed YAML in the cell body: {problem}") from None
        line, col = _where(text, _old_offset(mark.index, slots.values()))
        raise InputError(f"Malformed YAML in the cell body at line {line}, column {col}: {problem}"
                         f"{_hint(text, line, col, problem)}") from None
    except RecursionError:
        raise InputError("the cell body nests [ and { thousands deep, more than can be read: flatten it") from None
    except ValueError as exc:  # past the JSON/YAML syntax: e.g. an integer of more than 4300 digits
        if "digits" in str(exc):
            raise InputError("a number in the cell body has more than 4300 digits: write it as a string in quotes") from None
        raise InputError(f"the cell body cannot be read: {exc}") from None
    if not slots:
        return data
    return _fill(data, slots, values, _TOKEN)


def _fill(data: Any, slots: dict[str, _Slot], values: dict[str, Any], pattern: re.Pattern[str]) -> Any:
    if isinstance(data, dict):
        return {_fill_text(k, slots, values, pattern): _fill(v, slots, values, pattern) for k, v in data.items()}
    if isinstance(data, list):
        return [_fill(v, slots, values, pattern) for v in data]
    if isinstance(data, str):
        slot = slots.get(data)
        if slot is not None and slot.typed:
            return as_json_value(values[slot.expr], slot.expr)
        return _fill_text(data, slots, values, pattern)
    return data


def _fill_text(text: Any, slots: dict[str, _Slot], values: dict[str, Any], pattern: re.Pattern[str]) -> Any:
    if not isinstance(text, str) or "__aep" not in text:
        return text

    def sub(match: re.Match[str]) -> str:
        slot = slots.get(match.group(0))
        return as_text(values[slot.expr], slot.expr) if slot else match.group(0)

    return pattern.sub(sub, text)


def _json_string_flags(text: str, matches: list[re.Match[str]]) -> list[bool]:
    """For each placeholder: does it sit inside a JSON string? (placeholders are opaque while scanning)."""
    flags: list[bool] = []
    inside = False
    pos = 0
    for match in matches:
        inside = _scan(text, pos, match.start(), inside)
        flags.append(inside)
        pos = match.end()
    return flags


#: The stand-in of a reference while the body is parsed: ``__aep<nonce>_<n>__`` (only this call's nonce is in ``slots``).
_TOKEN = re.compile(r"__aep[0-9a-f]{8}_\d+__")
_QUOTE_OR_ESCAPE = re.compile(r'["\\]')


def _scan(text: str, start: int, end: int, inside: bool) -> bool:
    i = start
    while i < end:
        found = _QUOTE_OR_ESCAPE.search(text, i, end)  # jump to the next quote or backslash (5 MB bodies too)
        if found is None:
            break
        i = found.start()
        if inside and text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            inside = not inside
        i += 1
    return inside


def _yaml_quoted(text: str, match: re.Match[str]) -> bool:
    """YAML: a placeholder written as ``"{{x}}"`` or ``'{{x}}'`` is text, one standing bare keeps its type."""
    before = text[match.start() - 1] if match.start() > 0 else ""
    after = text[match.end()] if match.end() < len(text) else ""
    return before in ("'", '"') and before == after or _inside_scalar(text, match)


def _inside_scalar(text: str, match: re.Match[str]) -> bool:
    """True when other text shares the scalar (``name: Orders of {{shop}}``): then the value is text anyway."""
    line_start = text.rfind("\n", 0, match.start()) + 1
    line_end = text.find("\n", match.end())
    line_end = len(text) if line_end < 0 else line_end
    before = text[line_start : match.start()].rstrip()
    after = text[match.end() : line_end].strip()
    bare_before = before == "" or before.endswith((":", "-", "[", "{", ",", "?"))
    bare_after = after == "" or after[0] in ",]}#:" or after.startswith(" #")
    return not (bare_before and bare_after)


def _old_offset(pos: int, slots: Any) -> int:
    shift = 0
    for slot in slots:
        if pos < slot.new_start:
            break
        if pos < slot.new_end:
            return slot.old_start
        shift = slot.old_end - slot.new_end
    return pos + shift


def _where(text: str, offset: int) -> tuple[int, int]:
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def _hint(text: str, line: int, col: int, message: str) -> str:
    lines = text.splitlines()
    shown = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    if len(shown) > 60:
        shown = shown[:59] + "…"
    hint = f" (line {line}: {shown})" if shown else ""
    before = "\n".join(lines[: line - 1] + [lines[line - 1][: col - 1] if 0 < line <= len(lines) else ""]).rstrip()
    if before.endswith(",") and ("Expecting" in message or "expected" in message):
        hint += "; a trailing comma before a closing bracket is not allowed in JSON"
    elif "control character" in message and 0 < line <= len(lines) and col > len(lines[line - 1]):
        hint += "; a string is not closed before the end of the line"
    elif "Expecting" in message and not "\n".join(lines[line:] + [lines[line - 1][col - 1:] if 0 < line <= len(lines) else ""]).strip():
        hint += "; the body ends before every { and [ is closed"
    return hint


# -- YAML -----------------------------------------------------------------------------------------------------

_LOADER: Any = None
_C_LOADER: Any = None
#: Bodies longer than this are parsed with libyaml when PyYAML has it: its pure-Python scanner needs seconds per MB.
FAST_YAML_CHARS = 1 << 20
#: Values a YAML body may add through aliases (``*name`` repeats the value ``&name`` marks). A few repeats are fine;
#: nested ones multiply (a few hundred bytes of "billion laughs" stand for 387 million values) and would exhaust
#: the memory once the body is filled in and sent.
YAML_ALIAS_BUDGET = 10_000


def _yaml_error() -> type[Exception]:
    import yaml

    return yaml.YAMLError


class _AliasGuard:
    """Loader mixin: before a document is built, count the values its aliases add (:func:`_alias_expansion`)."""

    def construct_document(self, node: Any) -> Any:
        extra = _alias_expansion(node)
        if extra > YAML_ALIAS_BUDGET:
            raise InputError(f"the cell body's YAML aliases (*name) add {extra:,} values to it, more than "
                             f"{YAML_ALIAS_BUDGET:,}: write the repeated part out, or keep it in a variable and use "
                             "{{variable}}")
        return super().construct_document(node)  # type: ignore[misc]


def _alias_expansion(root: Any) -> int:
    """How many values the aliases of a composed YAML document add: the size of the document written out in full
    less the values it holds. An alias inside the value it names cannot be written out: InputError."""
    import yaml

    sizes: dict[int, int] = {}       # id(node) -> values in the node written out in full
    on_path: set[int] = set()        # the nodes being walked into (an alias to one of them is a cycle)
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = node.value if isinstance(node, yaml.SequenceNode) else []
        if done:
            on_path.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            continue
        if id(node) in sizes:
            continue
        on_path.add(id(node))
        stack.append((node, True))
        for child in children:
            if id(child) in on_path:
                raise InputError("a YAML alias (*name) in the cell body stands inside the value it names, so the "
                                 "body never ends: replace the alias with the value it should repeat")
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)] - len(sizes)


def _load_yaml(text: str) -> Any:
    """YAML with only ``true``/``false`` as booleans and no implicit dates (JSON-compatible data)."""
    global _LOADER, _C_LOADER
    import yaml

    if _LOADER is None:

        class Loader(_AliasGuard, yaml.SafeLoader):
            pass

        class CLoader(_AliasGuard, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
            pass

        resolvers: dict[str, list[Any]] = {}
        for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items():
            kept = [(tag, regexp) for tag, regexp in entries if tag != "tag:yaml.org,2002:timestamp"]
            kept = [
                (tag, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$") if tag == "tag:yaml.org,2002:bool" else regexp)
                for tag, regexp in kept
            ]
            resolvers[first] = kept
        Loader.yaml_implicit_resolvers = CLoader.yaml_implicit_resolvers = resolvers
        _LOADER, _C_LOADER = Loader, CLoader
    return yaml.load(text, Loader=_C_LOADER if len(text) > FAST_YAML_CHARS else _LOADER)
