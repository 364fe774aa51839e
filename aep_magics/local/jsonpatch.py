"""RFC 6902 JSON Patch (add, remove, replace, move, copy, test), shared by every service that takes a PATCH.

Services narrow it to what they document (Flow Service: add, replace, remove)."""

from __future__ import annotations

import copy
from typing import Any


class PatchError(ValueError):
    """An operation that cannot be applied (bad op, bad path, failed test)."""


def pointer_tokens(pointer: str) -> list[str]:
    """The reference tokens of a JSON pointer (``/a/b~1c`` -> ``["a", "b/c"]``)."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"Invalid JSON pointer {pointer!r}: it must start with '/'.")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container: list[Any], token: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"Invalid array index {token!r}.")
    i = int(token)
    if i > len(container) or (i == len(container) and not allow_end):
        raise PatchError(f"Array index {i} is out of range.")
    return i


def _parent(doc: Any, tokens: list[str], path: str) -> Any:
    node = doc
    for t in tokens[:-1]:
        if isinstance(node, dict):
            if t not in node:
                raise PatchError(f'Missing field "{t}" (path {path})')
            node = node[t]
        elif isinstance(node, list):
            node = node[_index(node, t, allow_end=False)]
        else:
            raise PatchError(f"Path {path!r} does not exist.")
    return node


def _get(doc: Any, path: str) -> Any:
    node = doc
    for t in pointer_tokens(path):
        if isinstance(node, dict) and t in node:
            node = node[t]
        elif isinstance(node, list):
            node = node[_index(node, t, allow_end=False)]
        else:
            raise PatchError(f'Missing field "{t}" (path {path})')
    return node


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = pointer_tokens(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise PatchError(f"Path {path!r} does not exist.")
    return doc


def _remove(doc: Any, path: str) -> Any:
    tokens = pointer_tokens(path)
    if not tokens:
        raise PatchError("The whole document cannot be removed.")
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f'Missing field "{last}" (path {path})')
        del parent[last]
    elif isinstance(parent, list):
        del parent[_index(parent, last, allow_end=False)]
    else:
        raise PatchError(f"Path {path!r} does not exist.")
    return doc


def apply_patch(doc: Any, operations: Any) -> Any:
    """Apply a JSON Patch to a deep copy of ``doc`` and return it; raises :class:`PatchError`."""
    if not isinstance(operations, list):
        raise PatchError("A JSON Patch must be an array of operations.")
    out = copy.deepcopy(doc)
    for op in operations:
        if not isinstance(op, dict) or not isinstance(op.get("op"), str) or not isinstance(op.get("path"), str):
            raise PatchError("Every operation needs 'op' and 'path'.")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"The '{kind}' operation needs a 'value'.")
        if kind == "add":
            out = _add(out, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            out = _remove(out, path)
        elif kind == "replace":
            _get(out, path)
            if not pointer_tokens(path):
                out = copy.deepcopy(op["value"])
            else:
                out = _remove(out, path)
                out = _add(out, path, copy.deepcopy(op["value"]))
        elif kind in ("move", "copy"):
            src = op.get("from")
            if not isinstance(src, str):
                raise PatchError(f"The '{kind}' operation needs 'from'.")
            value = copy.deepcopy(_get(out, src))
            if kind == "move":
                out = _remove(out, src)
            out = _add(out, path, value)
        elif kind == "test":
            if _get(out, path) != op["value"]:
                raise PatchError(f"Test failed at {path!r}.")
        else:
            raise PatchError(f"Unsupported operation {kind!r}.")
    return out
