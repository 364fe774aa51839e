"""Regular expression functions of Data Prep
(https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/functions):
extract_regex and matches_regex, and :func:`compile_pattern`, the one way every Data Prep function compiles a
user-supplied pattern (``explode`` and ``split`` too).

Patterns run on RE2 (https://github.com/google/re2/wiki/Syntax), here through ``google-re2`` and in Arrow's regex
kernels: matching time is linear in the length of the text whatever the pattern, so no pattern can make a match
backtrack for seconds while it holds the interpreter. What RE2 cannot run in linear time it does not compile:
backreferences, lookahead and lookbehind, atomic groups and possessive quantifiers are refused with an error that
names the construct: an :class:`EvaluationError`, so a row error in a run, and for a pattern written as a string
literal an error when the expression is compiled (a 400 at validate and preview). A pattern whose compiled form needs
more than :data:`MAX_PATTERN_MEMORY` is refused too.

Java's regex semantics, which Data Prep uses, are kept where RE2 has them: ``matches_regex`` matches the whole
string (``String.matches``), ``extract_regex`` returns the first match (``Matcher.find``) and its groups, ``\\d``,
``\\w``, ``\\s`` and ``\\b`` are ASCII, an empty match moves the next search on by one character; ``\\uXXXX`` is
read as the character with that code (RE2 spells it ``\\x{XXXX}``) and ``\\Z`` as the end of the text.
"""

from __future__ import annotations

import functools
import re

import pyarrow.compute as pc
import re2

from .core import EvaluationError, Fallback, _q, _string_arg, str_array, to_str

#: RE2's memory budget for one compiled pattern (``RE2::Options::max_mem``): a pattern whose program does not fit
#: is refused. It is RE2's default, so Arrow's regex kernels accept exactly the patterns the row functions accept.
MAX_PATTERN_MEMORY = 8 << 20

#: The argument (0-based) of each Data Prep function that is a regular expression; a constant one is checked when
#: the expression is compiled.
PATTERN_ARGUMENTS: dict[str, int] = {"extract_regex": 1, "matches_regex": 1, "explode": 1}

#: The escapes Java and RE2 read differently: ``\\uXXXX`` and ``\\Z`` (RE2 spells them ``\\x{XXXX}`` and ``\\z``),
#: and ``\\1`` to ``\\9``, always a backreference in Java but an octal code to RE2 when digits follow. Any other
#: escape pair and ``\\Q...\\E`` stay as they are. A fixed pattern without nested repetition: linear on any input.
_JAVA_ESCAPE = re.compile(r"\\Q.*?(?:\\E|\Z)|\\(?:u([0-9A-Fa-f]{4})|(Z)|([1-9])|.)", re.DOTALL)

#: RE2's error for a construct it does not have (after ``: ``), and the name users know it by; a possessive
#: quantifier (``a++``, ``a{2}+``) is a "bad repetition operator" ending in ``+``.
_CONSTRUCTS = {
    "(?=": "a lookahead (?=...)",
    "(?!": "a negative lookahead (?!...)",
    "(?<=": "a lookbehind (?<=...)",
    "(?<!": "a negative lookbehind (?<!...)",
    "(?>": "an atomic group (?>...)",
    "(?P": "a named backreference (?P=name)",
    "\\k": "a named backreference \\k<name>",
}


def _to_re2(pattern: str) -> str:
    """The RE2 spelling of a Java pattern."""

    def escape(m: re.Match) -> str:
        code, end, group = m.group(1, 2, 3)
        if group:
            raise EvaluationError(_unsupported(pattern, f"a backreference (\\{group})"))
        if code:
            return "\\x{" + code + "}"
        return "\\z" if end else m.group(0)

    return _JAVA_ESCAPE.sub(escape, pattern)


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = MAX_PATTERN_MEMORY
    options.log_errors = False
    return options


def _refusal(pattern: str, reason: str) -> str:
    what = reason.split(": ", 1)[1] if ": " in reason else ""
    if reason.startswith("pattern too large"):
        return (f"the regular expression {_q(pattern)} is too large: its compiled form needs more than "
                f"{MAX_PATTERN_MEMORY >> 20} MiB; simplify it (fewer or smaller repetitions)")
    construct = _CONSTRUCTS.get(what)
    if reason.startswith("bad repetition operator") and len(what) > 1 and what.endswith("+"):
        construct = f"a possessive quantifier ({what})"
    if construct is not None:
        return _unsupported(pattern, construct)
    return f"invalid regular expression {_q(pattern)}: {reason}"


def _unsupported(pattern: str, construct: str) -> str:
    return (f"the regular expression {_q(pattern)} uses {construct}, which Data Prep's linear-time regex engine "
            f"(RE2) does not support; rewrite the pattern without it")


@functools.lru_cache(maxsize=128)
def compile_pattern(pattern: str) -> re2._Regexp:
    """The RE2 program of a Data Prep pattern (Java spelling); raises :class:`EvaluationError` naming what is
    wrong when RE2 cannot compile it."""
    if not isinstance(pattern, str):
        raise EvaluationError("the regular expression is null; give a pattern string")
    try:
        return re2.compile(_to_re2(pattern), _options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid pattern"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise EvaluationError(_refusal(pattern, str(reason))) from None


def fn_matches_regex(ctx, s, pattern):
    s = to_str(s)
    if s is None:
        return None
    return compile_pattern(to_str(pattern)).fullmatch(s.encode()) is not None


def vec_matches_regex(ctx, n, s, pattern):
    text = _string_arg(pattern)
    if text is None:
        raise Fallback
    program = compile_pattern(text)  # the row path's checks: an unsupported pattern fails every row the same way
    return pc.match_substring_regex(str_array(s, n), pattern=r"\A(?:" + program.pattern + r")\z")


def fn_extract_regex(ctx, s, pattern):
    s = to_str(s)
    if s is None:
        return None
    m = compile_pattern(to_str(pattern)).search(s.encode())
    if m is None:
        return None
    return [None if g is None else g.decode() for g in (m.group(0), *m.groups())]
