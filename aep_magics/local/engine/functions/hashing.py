"""Hashing functions of Data Prep (https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/functions):
sha1, sha256, sha512, md5 and crc32, with an optional charset argument.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from .core import Const, EvaluationError, Fallback, UTF8, _q, str_array, to_str


_CHARSETS = {
    "UTF-8": ("utf-8", b""),
    "UTF8": ("utf-8", b""),
    "UTF-16": ("utf-16-be", b"\xfe\xff"),  # Java writes a big-endian byte-order mark
    "UTF-16BE": ("utf-16-be", b""),
    "UTF-16LE": ("utf-16-le", b""),
    "ISO-8859-1": ("latin-1", b""),
    "US-ASCII": ("ascii", b""),
}


def _encoder(charset: Any) -> Callable[[str], bytes]:
    name = (to_str(charset) or "UTF-8").upper()
    if name not in _CHARSETS:
        raise EvaluationError(f"unsupported charset {_q(charset)}")
    codec, prefix = _CHARSETS[name]
    return lambda s: prefix + s.encode(codec, errors="replace")


def _digest(algorithm: str) -> Callable[[bytes], str]:
    if algorithm == "crc32":  # Data Prep prints the checksum's little-endian bytes (documented: 8df92e80)
        return lambda data: zlib.crc32(data).to_bytes(4, "little").hex()
    return lambda data: hashlib.new(algorithm, data).hexdigest()


def _hash_function(algorithm: str):
    digest = _digest(algorithm)

    def row(ctx, value, charset="UTF-8"):
        s = to_str(value)
        return None if s is None else digest(_encoder(charset)(s))

    def vec(ctx, n, value, charset=UTF8):
        if not isinstance(charset, Const):
            raise Fallback
        encode = _encoder(charset.value)
        strings = str_array(value, n)
        if isinstance(strings, Const):
            raise Fallback
        out = [None if s is None else digest(encode(s)) for s in strings.to_pylist()]
        return pa.array(out, type=pa.string())

    return row, vec
