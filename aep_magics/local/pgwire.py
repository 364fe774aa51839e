"""The PostgreSQL front door of AEP Local: Query Service's interactive interface over the PostgreSQL v3 protocol
(https://experienceleague.adobe.com/en/docs/experience-platform/query/clients/overview,
https://www.postgresql.org/docs/current/protocol.html).

A second front door beside the HTTP server (same process, same start and stop, its own port). Real clients --
psql, psycopg, SQLAlchemy, jupysql -- connect to it as to the platform
(https://experienceleague.adobe.com/en/docs/experience-platform/query/ui/credentials):

- TLS on request (``sslmode=require``; SSLRequest -> ``S``) with a self-signed certificate made on first use and kept
  in ``<data dir>/pg/`` (https://experienceleague.adobe.com/en/docs/experience-platform/query/clients/ssl-modes);
  GSSENCRequest -> ``N``; plain connections from loopback addresses are taken too (``sslmode=disable``).
- Cleartext password authentication: user = the org id, password = an access token of AEP Local's IMS whose org is
  that user (else 28P01); database = ``{sandbox}:all`` or ``{sandbox}:{table}`` (an unknown sandbox: 3D000).
- Simple query (several statements in one string, split where a ``;`` stands outside quotes and comments) and
  extended query (Parse, Bind, Describe, Execute, Close, Sync, Flush) with parameters and results in text or
  binary format, as the client asks in Bind (psycopg's ``cursor(binary=True)`` parses binary rows faster).
  Each statement goes to the Query Service's interactive session
  (:meth:`aep_magics.local.services.queryservice.QueryService.interactive`), one ``execute`` per statement.
- CancelRequest (process id and secret key of BackendKeyData) interrupts the statement running on that connection.

Results are sent in text format (binary where Bind asks for it), with PostgreSQL type OIDs chosen from the Arrow
types: structs, lists and maps are sent as ``json`` (OID 114) text -- the form Query Service gives with
``SET auto_to_json=true`` (https://experienceleague.adobe.com/en/docs/experience-platform/query/sql/syntax) --
rather than PostgreSQL row literals, so that every client can parse them.

A local server is still a server: at most :data:`MAX_CONNECTIONS` connections (the next one gets 53300), a message
longer than :data:`MAX_MESSAGE_BYTES` or a malformed one closes its connection (08P01), a connection idle for
:data:`IDLE_TIMEOUT_S` (or :data:`STARTUP_TIMEOUT_S` before it has authenticated) is closed.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .identity import token_info
from .store import Tenant

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from .platform import Platform

log = logging.getLogger("aep_magics.local")

#: Largest message a client may send (a Parse or Query of 16 MB is far beyond any real statement).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
#: Connections served at once; the next one is refused with 53300.
MAX_CONNECTIONS = 64
#: Seconds a client may take from connecting to being authenticated (PostgreSQL's authentication_timeout is 60 s).
STARTUP_TIMEOUT_S = 30.0
#: Seconds an authenticated connection may sit idle between messages before it is closed (the Query Service UI's
#: sessions expire after 2 hours of inactivity:
#: https://experienceleague.adobe.com/en/docs/experience-platform/query/ui/session-management).
IDLE_TIMEOUT_S = 2 * 3600.0
#: Seconds the rest of a message, once begun, or a write of results may take.
IO_TIMEOUT_S = 60.0
#: Reported as ``server_version`` (psql prints it; SQLAlchemy parses the leading number).
SERVER_VERSION = "13.0 (AEP Local)"
_PROTOCOL_3 = 196608
_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_CANCEL_REQUEST = 80877102
#: Rows encoded at once (one DataRow buffer) while streaming a result.
_BATCH_ROWS = 8192
#: Flush the output buffer past this many bytes while streaming rows.
_FLUSH_BYTES = 256 * 1024

_I32 = struct.Struct("!i")
_I16 = struct.Struct("!h")


class PgListenError(OSError):
    """The PostgreSQL door cannot listen on its port (``.port``); the errno is the socket's."""

    def __init__(self, host: str, port: int, exc: OSError):
        self.reason = exc.strerror or str(exc)
        super().__init__(exc.errno, f"AEP Local cannot listen on {host}:{port} for PostgreSQL: {self.reason}")
        self.host = host
        self.port = port


class PgError(Exception):
    """An ErrorResponse: SQLSTATE, one-line message, optional 1-based position; ``fatal`` closes the connection."""

    def __init__(self, sqlstate: str, message: str, position: int | None = None, *, fatal: bool = False):
        super().__init__(message)
        self.sqlstate = sqlstate
        self.message = message
        self.position = position
        self.fatal = fatal


class _Closed(Exception):
    """The client went away (or must be dropped without a word)."""


# -- types and text format --------------------------------------------------------------------------------------
def type_oid(dtype: pa.DataType) -> tuple[int, int]:
    """The PostgreSQL type (OID, typlen) a column of Arrow type ``dtype`` is described as."""
    import pyarrow as pa

    t = pa.types
    if t.is_dictionary(dtype):
        return type_oid(dtype.value_type)
    if t.is_boolean(dtype):
        return 16, 1
    if t.is_int8(dtype) or t.is_int16(dtype) or t.is_uint8(dtype):
        return 21, 2
    if t.is_int32(dtype) or t.is_uint16(dtype):
        return 23, 4
    if t.is_int64(dtype) or t.is_uint32(dtype):
        return 20, 8
    if t.is_uint64(dtype) or t.is_decimal(dtype):
        return 1700, -1
    if t.is_float16(dtype) or t.is_float32(dtype):
        return 700, 4
    if t.is_float64(dtype):
        return 701, 8
    if t.is_date(dtype):
        return 1082, 4
    if t.is_timestamp(dtype):
        return (1184, 8) if dtype.tz else (1114, 8)
    if t.is_time(dtype):
        return 1083, 8
    if t.is_binary(dtype) or t.is_large_binary(dtype) or t.is_fixed_size_binary(dtype):
        return 17, -1
    if t.is_nested(dtype):
        return 114, -1
    return 25, -1


def _json_value(value: Any, dtype: pa.DataType) -> Any:
    """A ``to_pylist`` value of Arrow type ``dtype`` as JSON-able data (maps as objects)."""
    import pyarrow as pa

    if value is None:
        return None
    if pa.types.is_map(dtype):
        return {str(k): _json_value(v, dtype.item_type) for k, v in value}
    if pa.types.is_struct(dtype):
        return {f.name: _json_value(value.get(f.name), f.type) for f in dtype}
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype):
        return [_json_value(v, dtype.value_type) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


_FRACTION = r"(\.\d*?[1-9])0+$|\.0+$"


def text_column(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The values of one result column in PostgreSQL's text format, as an Arrow ``large_binary`` array (nulls kept).

    Vectorised with Arrow compute where a cast gives PostgreSQL's text (numbers, text, dates, timestamps); booleans,
    bytea, and nested values (JSON) go through Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = pa.large_binary()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    dtype = arr.type
    t = pa.types
    if t.is_dictionary(dtype):
        arr = arr.dictionary_decode()
        dtype = arr.type
    if t.is_null(dtype):
        return pa.nulls(len(arr), out)
    if t.is_boolean(dtype):
        return pc.if_else(arr, pa.scalar(b"t", out), pa.scalar(b"f", out))
    if t.is_string(dtype) or t.is_large_string(dtype):
        return arr.cast(out)
    if t.is_integer(dtype) or t.is_decimal(dtype) or t.is_date(dtype):
        return pc.cast(arr, pa.large_string()).cast(out)
    if t.is_floating(dtype):
        text = pc.cast(arr, pa.large_string())
        if pc.any(pc.is_inf(arr)).as_py() or pc.any(pc.is_nan(arr)).as_py():
            text = pc.replace_substring_regex(text, r"^inf$", "Infinity")
            text = pc.replace_substring_regex(text, r"^-inf$", "-Infinity")
            text = pc.replace_substring_regex(text, r"^nan$", "NaN")
        return text.cast(out)
    if t.is_timestamp(dtype) or t.is_time(dtype):
        if t.is_timestamp(dtype):
            arr = arr.cast(pa.timestamp(dtype.unit))  # a zoned timestamp as its UTC wall time (TimeZone UTC)
            if dtype.unit != "s":
                try:  # whole seconds: no fraction to write
                    arr = arr.cast(pa.timestamp("s"), safe=True)
                except pa.ArrowInvalid:
                    pass
        text = pc.cast(arr, pa.large_string())
        if not t.is_timestamp(arr.type) or arr.type.unit != "s":
            text = pc.replace_substring_regex(text, _FRACTION, r"\1")
        if t.is_timestamp(dtype) and dtype.tz:
            text = pc.binary_join_element_wise(text, pa.scalar("+00", pa.large_string()),
                                               pa.scalar("", pa.large_string()))
        return text.cast(out)
    if t.is_binary(dtype) or t.is_large_binary(dtype) or t.is_fixed_size_binary(dtype):
        return pa.array([None if v is None else b"\\x" + v.hex().encode() for v in arr.to_pylist()], out)
    if t.is_nested(dtype):
        return pa.array([None if v is None else json.dumps(_json_value(v, dtype), ensure_ascii=False,
                                                           separators=(",", ":")).encode()
                         for v in arr.to_pylist()], out)
    try:
        return pc.cast(arr, pa.large_string()).cast(out)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v).encode() for v in arr.to_pylist()], out)


#: PostgreSQL's epoch (2000-01-01) in days and microseconds after the Unix epoch: binary dates and timestamps.
_PG_EPOCH_DAYS = 10_957
_PG_EPOCH_US = _PG_EPOCH_DAYS * 86_400 * 1_000_000


def _fixed_width(arr: pa.Array, numpy_type: str, size: int) -> pa.Array:
    """Big-endian fixed-width cells of a numeric Arrow array as ``large_binary`` (nulls kept)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pc.fill_null(arr, 0).to_numpy(zero_copy_only=False).astype(numpy_type)
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(size), len(arr), [None, pa.py_buffer(
        np.ascontiguousarray(values).tobytes())]).cast(pa.large_binary())
    if arr.null_count:
        fixed = pc.if_else(pc.is_null(arr), pa.scalar(None, pa.large_binary()), fixed)
    return fixed


def _numeric_binary(value: decimal.Decimal) -> bytes:
    """One ``numeric`` value in PostgreSQL's binary format (base-10000 digits, weight, sign, display scale)."""
    if not value.is_finite():
        return struct.pack("!hhHh", 0, 0, 0xC000, 0)  # NaN
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    scale = max(0, -exponent)
    text = "".join(map(str, digits)) or "0"
    integer, fraction = (text[:exponent], text[exponent:]) if exponent < 0 else (text + "0" * exponent, "")
    if exponent < 0 and len(text) < -exponent:
        integer, fraction = "", text.rjust(-exponent, "0")
    integer = integer.lstrip("0")
    integer = integer.rjust((len(integer) + 3) // 4 * 4, "0")
    fraction = fraction.ljust((len(fraction) + 3) // 4 * 4, "0")
    groups = [int(integer[i:i + 4]) for i in range(0, len(integer), 4)] + \
        [int(fraction[i:i + 4]) for i in range(0, len(fraction), 4)]
    weight = len(integer) // 4 - 1
    while groups and groups[0] == 0:
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:
        weight = 0
    return struct.pack(f"!hhHh{len(groups)}h", len(groups), weight, 0x4000 if sign else 0, scale, *groups)


def binary_column(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The values of one result column in PostgreSQL's binary format for the type :func:`type_oid` describes it
    as, as an Arrow ``large_binary`` array (nulls kept): the format psycopg's ``cursor(binary=True)`` asks for, which
    it parses without text conversions. Types without a cheaper binary form (JSON, text) are sent as their text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    dtype = arr.type
    t = pa.types
    oid, size = type_oid(dtype)
    out = pa.large_binary()
    if t.is_null(dtype):
        return pa.nulls(len(arr), out)
    if oid == 16:
        return pc.if_else(arr, pa.scalar(b"\x01", out), pa.scalar(b"\x00", out))
    if oid in (21, 23, 20, 700, 701) and not t.is_float16(dtype):
        kind = {21: ">i2", 23: ">i4", 20: ">i8", 700: ">f4", 701: ">f8"}[oid]
        return _fixed_width(arr, kind, size)
    if oid == 1082:
        days = pc.subtract(arr.cast(pa.int32()), pa.scalar(_PG_EPOCH_DAYS, pa.int32()))
        return _fixed_width(days, ">i4", 4)
    if oid in (1114, 1184):
        micros = arr.cast(pa.timestamp("us", dtype.tz)).cast(pa.int64())
        return _fixed_width(pc.subtract(micros, pa.scalar(_PG_EPOCH_US, pa.int64())), ">i8", 8)
    if oid == 1083:
        return _fixed_width(arr.cast(pa.time64("us")).cast(pa.int64()), ">i8", 8)
    if oid == 17:
        return arr.cast(out)
    if oid == 1700:
        return pa.array([None if v is None else _numeric_binary(decimal.Decimal(v)) for v in arr.to_pylist()], out)
    return text_column(arr)  # text, varchar, json: the binary form is the text


def data_rows(batch: pa.RecordBatch, formats: Sequence[int] = ()) -> bytes:
    """The DataRow messages of every row of ``batch``, concatenated: built column-wise with Arrow compute (each cell
    is its big-endian length, -1 for NULL, then its text; each row ``D``, its length and the column count).
    ``formats``: the result format code of each column (0 text, 1 binary), as Bind asked for them."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = batch.num_rows
    if n == 0:
        return b""
    binary = pa.large_binary()
    empty = pa.scalar(b"", binary)
    sizes = np.full(n, 4 + 2, dtype=np.int64)
    cells = []
    for i, column in enumerate(batch.columns):
        values = binary_column(column) if i < len(formats) and formats[i] == 1 else text_column(column)
        lengths = pc.fill_null(pc.binary_length(values), -1).to_numpy(zero_copy_only=False).astype(np.int64)
        sizes += 4 + np.maximum(lengths, 0)
        prefix = pa.FixedSizeBinaryArray.from_buffers(pa.binary(4), n, [None, pa.py_buffer(
            lengths.astype(">i4").tobytes())]).cast(binary)
        cells.append(pc.binary_join_element_wise(prefix, pc.fill_null(values, empty), empty))
    header = np.empty(n, dtype=[("kind", "S1"), ("size", ">i4"), ("count", ">i2")])
    header["kind"] = b"D"
    header["size"] = sizes
    header["count"] = batch.num_columns
    heads = pa.FixedSizeBinaryArray.from_buffers(pa.binary(7), n, [None, pa.py_buffer(header.tobytes())])
    rows = pc.binary_join_element_wise(heads.cast(binary), *cells, empty)
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)[rows.offset:rows.offset + n + 1]
    return rows.buffers()[2].to_pybytes()[offsets[0]:offsets[-1]]


def row_description(schema: pa.Schema, formats: Sequence[int] = ()) -> bytes:
    parts = [_I16.pack(len(schema))]
    for i, f in enumerate(schema):
        oid, size = type_oid(f.type)
        fmt = formats[i] if i < len(formats) else 0
        parts.append(_cstr(f.name) + struct.pack("!ihihih", 0, 0, oid, size, -1, fmt))
    return _message(b"T", b"".join(parts))


def _cstr(value: str) -> bytes:
    return value.replace("\x00", "").encode("utf-8", "replace") + b"\x00"


def _message(kind: bytes, body: bytes = b"") -> bytes:
    return kind + _I32.pack(len(body) + 4) + body


def error_response(err: PgError) -> bytes:
    severity = "FATAL" if err.fatal else "ERROR"
    fields = [b"S" + _cstr(severity), b"V" + _cstr(severity), b"C" + _cstr(err.sqlstate),
              b"M" + _cstr(" ".join(str(err.message).split()))]
    if err.position:
        fields.append(b"P" + _cstr(str(err.position)))
    return _message(b"E", b"".join(fields) + b"\x00")


# -- splitting a simple query ------------------------------------------------------------------------------------
_tokenizer: Any = None


def _make_tokenizer() -> Any:
    from sqlglot.dialects.postgres import Postgres

    class Tokenizer(Postgres.Tokenizer):  # PostgreSQL's quoting, plus Spark SQL's `backtick` identifiers
        IDENTIFIERS = ['"', "`"]

    return Tokenizer()


def split_statements(sql: str) -> list[tuple[str, int]]:
    """The statements of a simple query with the 0-based offset of each in ``sql``, split at every ``;`` outside
    quotes, dollar quotes and comments (sqlglot's PostgreSQL tokenizer, with backtick identifiers). Text that cannot
    be tokenized (an unterminated quote) is one statement: the engine reports its error. Empty statements are
    dropped."""
    global _tokenizer
    from sqlglot.errors import TokenError
    from sqlglot.tokens import TokenType

    if _tokenizer is None:
        _tokenizer = _make_tokenizer()
    try:
        cuts = [tok.start for tok in _tokenizer.tokenize(sql) if tok.token_type == TokenType.SEMICOLON]
    except TokenError:
        cuts = []
    out, begin = [], 0
    for end in [*cuts, len(sql)]:
        piece = sql[begin:end]
        stripped = piece.strip()
        if stripped and _has_code(stripped):
            out.append((stripped, begin + piece.index(stripped)))
        begin = end + 1
    return out


_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)


def _has_code(text: str) -> bool:
    return bool(_COMMENT.sub(" ", text).strip())


# -- TLS ---------------------------------------------------------------------------------------------------------
def ensure_certificate(directory: Path, names: Sequence[str] = ()) -> tuple[Path, Path]:
    """``server.crt`` and ``server.key`` in ``directory``: a self-signed ECDSA P-256 certificate for localhost and
    the loopback addresses (and ``names``), made once and reused while it is valid for at least a day more."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert_path, key_path = directory / "server.crt", directory / "server.key"
    now = _dt.datetime.now(_dt.timezone.utc)
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if cert.not_valid_after_utc > now + _dt.timedelta(days=1):
            return cert_path, key_path
    except (OSError, ValueError):
        pass
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for name in ["127.0.0.1", "::1", *names]:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            if name:
                alt.append(x509.DNSName(name))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "AEP Local"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AEP Local (self-signed)")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - _dt.timedelta(minutes=5))
            .not_valid_after(now + _dt.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName(list(dict.fromkeys(alt))), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    tmp_key, tmp_cert = key_path.with_suffix(".key.tmp"), cert_path.with_suffix(".crt.tmp")
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_pem)
    tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp_key, key_path)
    os.replace(tmp_cert, cert_path)
    return cert_path, key_path


# -- one connection ----------------------------------------------------------------------------------------------
@dataclass
class _Prepared:
    sql: str
    param_types: list[int]


@dataclass
class _Portal:
    sql: str
    params: list[Any]
    result: Any = None               # the SqlResult once executed
    sent: int = 0                    # rows of its table sent so far
    formats: list[int] = field(default_factory=list)  # Bind's result format codes (0 text, 1 binary)

    def column_formats(self, count: int) -> list[int]:
        """One format code per result column (none: text; one: for every column)."""
        if not self.formats:
            return [0] * count
        if len(self.formats) == 1:
            return self.formats * count
        return self.formats


@dataclass
class _Conn:
    sock: socket.socket
    peer: str
    pid: int
    secret: int
    session: Any = None
    status: bytes = b"I"             # ReadyForQuery: I idle, T in a transaction block, E failed transaction block
    out: list[bytes] = field(default_factory=list)
    size: int = 0
    statements: dict[str, _Prepared] = field(default_factory=dict)
    portals: dict[str, _Portal] = field(default_factory=dict)
    skip_to_sync: bool = False

    def send(self, data: bytes) -> None:
        self.out.append(data)
        self.size += len(data)
        if self.size >= _FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.out:
            data = b"".join(self.out)
            self.out.clear()
            self.size = 0
            self.sock.sendall(data)


_BINARY_PARAMS: dict[int, Callable[[bytes], Any]] = {
    16: lambda b: b != b"\x00",
    21: lambda b: struct.unpack("!h", b)[0], 23: lambda b: struct.unpack("!i", b)[0],
    20: lambda b: struct.unpack("!q", b)[0], 26: lambda b: struct.unpack("!I", b)[0],
    700: lambda b: struct.unpack("!f", b)[0], 701: lambda b: struct.unpack("!d", b)[0],
    17: bytes,
    1082: lambda b: _dt.date(2000, 1, 1) + _dt.timedelta(days=struct.unpack("!i", b)[0]),
    1114: lambda b: _dt.datetime(2000, 1, 1) + _dt.timedelta(microseconds=struct.unpack("!q", b)[0]),
    1184: lambda b: _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(microseconds=struct.unpack("!q", b)[0]),
    3802: lambda b: b[1:].decode("utf-8"),  # jsonb: a version byte, then the text
}
#: Types whose binary form is their UTF-8 text (unknown, text, varchar, name, char, json).
_TEXT_LIKE = frozenset({0, 25, 1043, 19, 18, 1042, 114, 705})


def _params(values: list[bytes | None], types: list[int], formats: list[int]) -> list[Any]:
    """Parameter values as Python values, by their declared type OIDs (unspecified: text) and format codes (none:
    text; one: for every parameter; else one each)."""
    out: list[Any] = []
    for i, raw in enumerate(values):
        oid = types[i] if i < len(types) else 0
        fmt = formats[0] if len(formats) == 1 else (formats[i] if i < len(formats) else 0)
        if raw is None:
            out.append(None)
            continue
        if fmt == 1 and oid not in _TEXT_LIKE:
            decode = _BINARY_PARAMS.get(oid)
            if decode is None:
                raise PgError("0A000", f"parameter ${i + 1} is sent in binary format as type OID {oid}, which AEP "
                              "Local reads only in text format: send it in text format")
            try:
                out.append(decode(raw))
            except (struct.error, OverflowError, UnicodeDecodeError):
                raise PgError("22P03", f"parameter ${i + 1} is not a valid binary value of type OID {oid}: send "
                              "the value its type declares") from None
            continue
        text = raw.decode("utf-8")
        try:
            if oid in (20, 21, 23, 26):
                out.append(int(text))
            elif oid in (700, 701):
                out.append(float(text))
            elif oid == 1700:
                out.append(decimal.Decimal(text))
            elif oid == 16:
                out.append(text.strip().lower() in ("t", "true", "1", "y", "yes", "on"))
            else:
                out.append(text)
        except (ValueError, decimal.InvalidOperation):
            raise PgError("22P02", f"parameter ${i + 1} is not a valid value of its declared type: {text[:60]!r}; "
                          "send a value of that type") from None
    return out


_LEADING = re.compile(r"^\s*(?:(?:--[^\n]*\n)|(?:/\*.*?\*/)|\s)*([A-Za-z]+)(?:\s+([A-Za-z]+))?", re.S)
_TRANSACTION_END = {"ROLLBACK", "ABORT", "COMMIT", "END"}


def _first_words(sql: str) -> tuple[str, str]:
    match = _LEADING.match(sql)
    return (match.group(1).upper(), (match.group(2) or "").upper()) if match else ("", "")


#: psycopg's ``TypeInfo.fetch`` (SQLAlchemy's first connect asks it for ``hstore``): ``... FROM pg_type t WHERE
#: t.oid = to_regtype(%(name)s)``. AEP Local defines no types beyond the built-in ones, so the answer is no row.
_TYPE_INFO = re.compile(r"\bFROM\s+pg_type\s+t\s+WHERE\s+t\.oid\s*=\s*(?:pg_catalog\.)?to_regtype\s*\(", re.I)


def _type_info_result() -> Any:
    import pyarrow as pa

    result = _Done("SELECT 0")
    result.table = pa.table({"name": pa.array([], pa.string()), "oid": pa.array([], pa.int64()),
                             "array_oid": pa.array([], pa.int64()), "regtype": pa.array([], pa.string()),
                             "delimiter": pa.array([], pa.string())})
    return result


class _Done:
    """The result of a statement the door answers itself (savepoints, psycopg's type lookup)."""

    table = None

    def __init__(self, tag: str):
        self.tag = tag


class PgServer:
    """The PostgreSQL door: a listening socket, one daemon thread per connection (at most ``max_connections``).

    ``services`` is the HTTP app's list (``App.services``): the door takes the Query Service from it, the one with
    ``interactive(tenant, user=..., client=..., table=...)``. ``start()`` sets ``platform.pg_address``."""

    def __init__(self, platform: Platform, services: Sequence[Any], host: str = "127.0.0.1", port: int = 0, *,
                 cert_dir: Path | None = None, max_connections: int = MAX_CONNECTIONS,
                 idle_timeout: float = IDLE_TIMEOUT_S, startup_timeout: float = STARTUP_TIMEOUT_S):
        self.platform = platform
        self.services = services
        self.cert_dir = cert_dir or platform.data_dir / "pg"
        self.idle_timeout = idle_timeout
        self.startup_timeout = startup_timeout
        self.max_connections = max_connections
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind((host, port))
        except OSError as exc:
            self._listener.close()
            raise PgListenError(host, port, exc) from None
        self._listener.listen(128)
        self.host = host
        self.address: str = self._listener.getsockname()[0]
        self.port: int = self._listener.getsockname()[1]
        self._slots = threading.BoundedSemaphore(max_connections)
        #: Connections past the limit, served just far enough to say so (53300) or to take a CancelRequest.
        self._refusals = threading.BoundedSemaphore(8)
        self._lock = threading.Lock()
        self._conns: dict[int, _Conn] = {}
        self._socks: set[socket.socket] = set()
        self._ssl: ssl.SSLContext | None = None
        self._ssl_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name=f"aep-local-pg:{self.port}", daemon=True)

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> PgServer:
        self._thread.start()
        shown = self.host
        if shown in ("0.0.0.0", ""):
            shown = "127.0.0.1"
        elif shown == "::":
            shown = "::1"
        self.platform.pg_address = (shown, self.port)  # read by the Query Service
        return self

    def stop(self) -> None:
        self._stopping.set()
        for end in (lambda: self._listener.shutdown(socket.SHUT_RDWR), self._listener.close):
            try:  # shutdown wakes the thread blocked in accept(); close alone would leave the port listening
                end()
            except OSError:
                pass
        with self._lock:
            open_socks = list(self._socks)
            sessions = [c.session for c in self._conns.values() if c.session is not None]
        for session in sessions:
            try:
                session.cancel()
            except Exception:  # noqa: BLE001 - stopping must finish
                pass
        for sock in open_socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=10)
        self.platform.pg_address = None

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, peer = self._listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._slots.acquire(blocking=False):
                slot, full = self._slots, False
            elif self._refusals.acquire(blocking=False):  # negotiated far enough to refuse (or cancel) properly
                slot, full = self._refusals, True
            else:
                sock.close()
                continue
            threading.Thread(target=self._serve, args=(sock, peer[0], slot, full), name="aep-local-pg-conn",
                             daemon=True).start()

    # -- TLS ----------------------------------------------------------------------------------------------------
    def ssl_context(self) -> ssl.SSLContext:
        with self._ssl_lock:
            if self._ssl is None:
                cert, key = ensure_certificate(self.cert_dir, [self.host, self.address])
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.minimum_version = ssl.TLSVersion.TLSv1_2
                ctx.load_cert_chain(cert, key)
                self._ssl = ctx
            return self._ssl

    # -- a connection -------------------------------------------------------------------------------------------
    def _serve(self, sock: socket.socket, peer: str, slot: threading.BoundedSemaphore, full: bool = False) -> None:
        with self._lock:
            self._socks.add(sock)
        conn = _Conn(sock, peer, pid=secrets.randbelow(2**31 - 1) + 1, secret=secrets.randbits(31))
        try:
            sock.settimeout(self.startup_timeout)
            negotiated = self._negotiate(conn)
            if negotiated is None:
                pass
            elif full:
                raise PgError("53300", f"AEP Local serves at most {self.max_connections} PostgreSQL connections at "
                              "once; close idle connections and try again", fatal=True)
            else:
                self._startup(conn, *negotiated)
                self._loop(conn)
        except PgError as exc:
            self._try_send(conn, error_response(exc))
        except (_Closed, OSError, ssl.SSLError):
            pass
        except Exception:  # noqa: BLE001 - one broken connection must not take the door down
            log.exception("PostgreSQL connection from %s failed", peer)
            self._try_send(conn, error_response(PgError("58000", "AEP Local had an internal error on this connection;"
                                                        " reconnect and try again", fatal=True)))
        finally:
            with self._lock:
                self._conns.pop(conn.pid, None)
                self._socks.discard(sock)
                self._socks.discard(conn.sock)
            if conn.session is not None:
                try:
                    conn.session.close()
                except Exception:  # noqa: BLE001
                    log.exception("closing a Query Service session failed")
            if isinstance(conn.sock, ssl.SSLSocket):
                try:  # TLS close_notify: libpq reports a bare end of stream as an SSL error
                    conn.sock.settimeout(1)
                    conn.sock.unwrap()
                except (OSError, ValueError):
                    pass
            for s in {sock, conn.sock}:
                try:
                    s.close()
                except OSError:
                    pass
            slot.release()

    @staticmethod
    def _try_send(conn: _Conn, data: bytes) -> None:
        try:
            conn.out.clear()
            conn.sock.sendall(data)
        except (OSError, ValueError):
            pass

    def _recv(self, conn: _Conn, n: int) -> bytes:
        chunks, left = [], n
        while left:
            chunk = conn.sock.recv(min(left, 1 << 20))
            if not chunk:
                raise _Closed()
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _length(self, raw: bytes) -> int:
        (length,) = _I32.unpack(raw)
        if length < 4 or length > MAX_MESSAGE_BYTES:
            raise PgError("08P01", f"invalid message length {length}: messages are 4 to {MAX_MESSAGE_BYTES} bytes; "
                          "use a PostgreSQL client", fatal=True)
        return length

    def _negotiate(self, conn: _Conn) -> tuple[int, bytes, bool] | None:
        """SSL / GSS negotiation up to the startup message: its protocol code, body and whether TLS is on; None
        after a CancelRequest (handled)."""
        tls = False
        while True:
            length = self._length(self._recv(conn, 4))
            if length < 8:
                raise PgError("08P01", "invalid startup packet: use a PostgreSQL client", fatal=True)
            body = self._recv(conn, length - 4)
            (code,) = _I32.unpack(body[:4])
            if code == _SSL_REQUEST and not tls:
                conn.sock.sendall(b"S")
                conn.sock = self.ssl_context().wrap_socket(conn.sock, server_side=True)
                with self._lock:
                    self._socks.add(conn.sock)
                tls = True
                continue
            if code == _GSSENC_REQUEST:
                conn.sock.sendall(b"N")
                continue
            if code == _CANCEL_REQUEST and length == 16:
                pid, key = struct.unpack("!ii", body[4:12])
                self._cancel(pid, key)
                return None
            if code >> 16 != 3:
                raise PgError("0A000", f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}: AEP Local speaks "
                              "protocol 3.0; use a PostgreSQL client from version 7.4 on", fatal=True)
            return code, body, tls

    def _startup(self, conn: _Conn, code: int, body: bytes, tls: bool) -> None:
        """The startup message: authentication, the session, the parameters the client is told."""
        if not tls and not _loopback(conn.peer):
            raise PgError("28000", "AEP Local takes connections from other machines only over TLS: connect with "
                          "sslmode=require", fatal=True)
        params = self._startup_params(body[4:])
        unknown = [k for k in params if k.startswith("_pq_.")]
        if code & 0xFFFF or unknown:
            conn.sock.sendall(_message(b"v", _I32.pack(0) + _I32.pack(len(unknown))
                                       + b"".join(_cstr(k) for k in unknown)))
        self._authenticate(conn, params)
        with self._lock:
            self._conns[conn.pid] = conn
        app = params.get("application_name", "")
        conn.send(_message(b"R", _I32.pack(0)))  # AuthenticationOk
        for key, value in (("server_version", SERVER_VERSION), ("server_encoding", "UTF8"),
                           ("client_encoding", "UTF8"), ("DateStyle", "ISO, MDY"), ("integer_datetimes", "on"),
                           ("standard_conforming_strings", "on"), ("TimeZone", "UTC"), ("IntervalStyle", "postgres"),
                           ("is_superuser", "off"), ("session_authorization", params.get("user", "")),
                           ("application_name", app)):
            conn.send(_message(b"S", _cstr(key) + _cstr(value)))
        conn.send(_message(b"K", struct.pack("!ii", conn.pid, conn.secret)))
        conn.send(_message(b"Z", conn.status))
        conn.flush()

    @staticmethod
    def _startup_params(data: bytes) -> dict[str, str]:
        parts = data.split(b"\x00")
        params: dict[str, str] = {}
        for i in range(0, len(parts) - 1, 2):
            if not parts[i]:
                break
            params[parts[i].decode("utf-8", "replace")] = parts[i + 1].decode("utf-8", "replace")
        return params

    def _authenticate(self, conn: _Conn, params: dict[str, str]) -> None:
        user = params.get("user", "")
        database = params.get("database", "") or user
        conn.sock.sendall(_message(b"R", _I32.pack(3)))  # AuthenticationCleartextPassword
        kind = self._recv(conn, 1)
        length = self._length(self._recv(conn, 4))
        body = self._recv(conn, length - 4)
        if kind != b"p":
            raise PgError("08P01", "expected a password message: use a PostgreSQL client", fatal=True)
        token = body.split(b"\x00", 1)[0].decode("utf-8", "replace").strip()
        info = token_info(self.platform, token) if token else None
        if info is None or not hmac.compare_digest(info["org_id"].encode(), user.encode()):
            raise PgError("28P01", f"invalid password or token for user {user!r}: the user is your org id and the "
                          "password an access token of AEP Local's IMS for that org (POST /ims/token/v3)",
                          fatal=True)
        sandbox, sep, table = database.partition(":")
        table = table.split("?", 1)[0]
        if not sep or not sandbox or not table:
            raise PgError("3D000", f"database {database!r} does not exist: connect to '<sandbox>:all' (e.g. "
                          "'prod:all') or '<sandbox>:<table>'", fatal=True)
        from .services.sandboxes import active_sandbox

        if active_sandbox(self.platform, user, sandbox) is None:
            raise PgError("3D000", f"database {database!r} does not exist: the org has no active sandbox "
                          f"{sandbox!r}; connect to 'prod:all' or another sandbox of the org", fatal=True)
        service = self._query_service()
        try:
            conn.session = service.interactive(Tenant(user, sandbox), user=info["client_id"],
                                               client=params.get("application_name") or "PostgreSQL",
                                               table=None if table == "all" else table)
        except Exception as exc:  # noqa: BLE001 - an SqlError (sqlstate, message) or a bug
            raise _as_pg_error(exc, fatal=True) from None

    def _query_service(self) -> Any:
        for service in self.services:
            if callable(getattr(service, "interactive", None)):
                return service
        raise PgError("58000", "this AEP Local has no Query Service: install aep-magics[local] with its Query "
                      "Service and restart", fatal=True)

    def _cancel(self, pid: int, key: int) -> None:
        with self._lock:
            target = self._conns.get(pid)
        if target is not None and target.session is not None and hmac.compare_digest(
                _I32.pack(target.secret), _I32.pack(key)):
            try:
                target.session.cancel()
            except Exception:  # noqa: BLE001 - a cancel is best effort, as in PostgreSQL
                log.exception("cancelling a Query Service statement failed")

    # -- messages -----------------------------------------------------------------------------------------------
    def _loop(self, conn: _Conn) -> None:
        while True:
            conn.flush()
            conn.sock.settimeout(self.idle_timeout)
            kind = self._recv(conn, 1)
            conn.sock.settimeout(IO_TIMEOUT_S)
            length = self._length(self._recv(conn, 4))
            body = self._recv(conn, length - 4) if length > 4 else b""
            if kind == b"X":
                return
            try:
                if kind == b"Q":
                    self._simple(conn, body)
                    continue
                if kind == b"S":
                    conn.skip_to_sync = False
                    if conn.status == b"I":
                        conn.portals.clear()
                    conn.send(_message(b"Z", conn.status))
                    continue
                if kind == b"H":
                    continue
                if kind in (b"d", b"c", b"f"):  # copy messages outside COPY: ignored, as PostgreSQL does
                    continue
                if conn.skip_to_sync:
                    continue
                handler = self._EXTENDED.get(kind)
                if handler is None:
                    raise PgError("08P01", f"invalid frontend message type {kind!r}: use a PostgreSQL client",
                                  fatal=True)
                handler(self, conn, _Reader(body))
            except PgError as exc:
                if exc.fatal:
                    raise
                if conn.status == b"T":
                    conn.status = b"E"
                conn.send(error_response(exc))
                if kind == b"Q":
                    conn.send(_message(b"Z", conn.status))
                else:
                    conn.skip_to_sync = True

    def _simple(self, conn: _Conn, body: bytes) -> None:
        sql = _Reader(body).cstr()
        statements = split_statements(sql)
        if not statements:
            conn.send(_message(b"I"))
        for statement, offset in statements:
            try:
                result = self._execute(conn, statement, None)
                if result.table is not None:
                    conn.send(row_description(result.table.schema))
                    self._send_rows(conn, result.table)
                conn.send(_message(b"C", _cstr(result.tag)))
            except PgError as exc:
                if exc.position:
                    exc.position += offset
                if conn.status == b"T":
                    conn.status = b"E"
                conn.send(error_response(exc))
                break
        conn.send(_message(b"Z", conn.status))

    def _execute(self, conn: _Conn, sql: str, params: Sequence[Any] | None) -> Any:
        word, second = _first_words(sql)
        if word == "ROLLBACK" and second == "TO" and conn.status != b"I":
            conn.status = b"T"  # ROLLBACK TO SAVEPOINT: the transaction block goes on
            return _Done("ROLLBACK")
        if conn.status == b"E" and word not in _TRANSACTION_END:
            raise PgError("25P02", "current transaction is aborted, commands ignored until end of transaction "
                          "block: send ROLLBACK")
        if word in ("SAVEPOINT", "RELEASE"):
            # Query Service's transaction statements change nothing; psycopg's conn.transaction() inside a block
            # (SQLAlchemy's first connect) sends savepoints, answered here like BEGIN and COMMIT
            if conn.status == b"I":
                raise PgError("25P01", f"{word} can only be used in transaction blocks: send BEGIN first")
            return _Done(word)
        if _TYPE_INFO.search(sql):
            return _type_info_result()
        try:
            result = conn.session.execute(sql, params)
        except Exception as exc:  # noqa: BLE001 - SqlError carries the SQLSTATE; anything else is ours
            raise _as_pg_error(exc) from None
        tag = str(result.tag).split(" ", 1)[0].upper()
        if conn.status == b"E":
            conn.status = b"I"
            result.tag = "ROLLBACK"
        elif tag in ("BEGIN", "START"):
            conn.status = b"T"
        elif tag in ("COMMIT", "ROLLBACK"):
            conn.status = b"I"
        return result

    # extended query
    def _parse(self, conn: _Conn, msg: _Reader) -> None:
        name, sql = msg.cstr(), msg.cstr()
        types = [msg.i32() for _ in range(msg.i16())]
        statements = split_statements(sql)
        if len(statements) > 1:
            raise PgError("42601", "cannot insert multiple commands into a prepared statement: send one statement "
                          "per query")
        conn.statements[name] = _Prepared(statements[0][0] if statements else "", types)
        conn.send(_message(b"1"))

    def _bind(self, conn: _Conn, msg: _Reader) -> None:
        portal, name = msg.cstr(), msg.cstr()
        formats = [msg.i16() for _ in range(msg.i16())]
        values: list[bytes | None] = []
        for _ in range(msg.i16()):
            size = msg.i32()
            values.append(None if size < 0 else msg.take(size))
        result_formats = [msg.i16() for _ in range(msg.i16())]
        prepared = conn.statements.get(name)
        if prepared is None:
            raise PgError("26000", f"prepared statement {name!r} does not exist: Parse it first")
        if any(f not in (0, 1) for f in (*formats, *result_formats)):
            raise PgError("08P01", "invalid format code in Bind: 0 is text, 1 binary; use a PostgreSQL client")
        if len(formats) not in (0, 1, len(values)):
            raise PgError("08P01", f"Bind has {len(formats)} parameter format codes for {len(values)} parameters; "
                          "use a PostgreSQL client")
        conn.portals[portal] = _Portal(prepared.sql, _params(values, prepared.param_types, formats),
                                       formats=result_formats)
        conn.send(_message(b"2"))

    def _describe(self, conn: _Conn, msg: _Reader) -> None:
        what, name = msg.take(1), msg.cstr()
        if what == b"S":
            prepared = conn.statements.get(name)
            if prepared is None:
                raise PgError("26000", f"prepared statement {name!r} does not exist: Parse it first")
            conn.send(_message(b"t", _I16.pack(len(prepared.param_types))
                               + b"".join(_I32.pack(t or 25) for t in prepared.param_types)))
            conn.send(_message(b"n"))  # the row shape is known once the statement runs: describe the portal
            return
        portal = conn.portals.get(name)
        if portal is None:
            raise PgError("34000", f"portal {name!r} does not exist: Bind it first")
        self._run_portal(conn, portal)
        table = portal.result.table
        conn.send(row_description(table.schema, portal.column_formats(len(table.schema))) if table is not None
                  else _message(b"n"))

    def _run_portal(self, conn: _Conn, portal: _Portal) -> None:
        if portal.result is None:
            if not portal.sql:
                portal.result = _Empty()
                return
            portal.result = self._execute(conn, portal.sql, portal.params or None)

    @staticmethod
    def _send_rows(conn: _Conn, table: pa.Table, formats: Sequence[int] = ()) -> None:
        for batch in table.to_batches(max_chunksize=_BATCH_ROWS):
            conn.send(data_rows(batch, formats))

    def _execute_portal(self, conn: _Conn, msg: _Reader) -> None:
        name, limit = msg.cstr(), msg.i32()
        portal = conn.portals.get(name)
        if portal is None:
            raise PgError("34000", f"portal {name!r} does not exist: Bind it first")
        self._run_portal(conn, portal)
        if isinstance(portal.result, _Empty):
            conn.send(_message(b"I"))
            return
        table = portal.result.table
        if table is not None and portal.sent < table.num_rows:
            count = table.num_rows - portal.sent if limit <= 0 else min(limit, table.num_rows - portal.sent)
            self._send_rows(conn, table.slice(portal.sent, count), portal.column_formats(table.num_columns))
            portal.sent += count
            if limit > 0 and portal.sent < table.num_rows:
                conn.send(_message(b"s"))  # PortalSuspended: the client asks for more with another Execute
                return
        conn.send(_message(b"C", _cstr(portal.result.tag)))

    def _close(self, conn: _Conn, msg: _Reader) -> None:
        what, name = msg.take(1), msg.cstr()
        (conn.statements if what == b"S" else conn.portals).pop(name, None)
        conn.send(_message(b"3"))

    def _function_call(self, conn: _Conn, msg: _Reader) -> None:
        raise PgError("0A000", "the function call protocol is not supported: call the function in a SELECT")

    _EXTENDED: dict[bytes, Callable[[PgServer, _Conn, _Reader], None]] = {
        b"P": _parse, b"B": _bind, b"D": _describe, b"E": _execute_portal, b"C": _close, b"F": _function_call,
    }


class _Empty:
    """The result of an empty statement (EmptyQueryResponse)."""

    tag = ""
    table = None


class _Reader:
    """Reads the fields of one message body; a short or malformed body is a protocol violation."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise PgError("08P01", "malformed message: a field runs past the end of its message; use a PostgreSQL "
                          "client", fatal=True)
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def i16(self) -> int:
        return _I16.unpack(self.take(2))[0]

    def i32(self) -> int:
        return _I32.unpack(self.take(4))[0]

    def cstr(self) -> str:
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            raise PgError("08P01", "malformed message: a string is not terminated; use a PostgreSQL client",
                          fatal=True)
        raw = self.data[self.pos:end]
        self.pos = end + 1
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise PgError("22021", "invalid byte sequence for encoding UTF8: send UTF-8 text") from None


def _as_pg_error(exc: BaseException, *, fatal: bool = False) -> PgError:
    """An SqlError of the Query Service (``.sqlstate``, ``.message``, ``.position``) as a PgError; anything else is
    an internal error (58000, logged)."""
    if isinstance(exc, PgError):
        return exc
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and len(sqlstate) == 5:
        return PgError(sqlstate, str(getattr(exc, "message", exc)), getattr(exc, "position", None), fatal=fatal)
    log.error("Query Service statement failed", exc_info=exc)
    return PgError("58000", f"AEP Local had an internal error running this statement ({type(exc).__name__}); see "
                   "the server log", fatal=fatal)


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def psql_command(host: str, port: int, org: str, sandbox: str = "prod") -> str:
    """The psql command line for this door (the password, an access token, is asked for: never printed)."""
    return f'psql "host={host} port={port} dbname={sandbox}:all user={org} sslmode=require"'


__all__ = ["PgServer", "PgError", "PgListenError", "MAX_CONNECTIONS", "MAX_MESSAGE_BYTES", "IDLE_TIMEOUT_S",
           "SERVER_VERSION", "split_statements", "text_column", "type_oid", "psql_command", "ensure_certificate"]
