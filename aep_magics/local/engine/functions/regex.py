"""Regular expression functions of Data Prep
(https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/functions):
extract_regex and matches_regex (whole-string match; RE2-compatible patterns run as Arrow kernels).
"""

from __future__ import annotations

import functools
import re

import pyarrow.compute as pc

from .core import EvaluationError, Fallback, _q, _string_arg, str_array, to_str


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise EvaluationError(f"invalid regular expression {_q(pattern)}: {exc}") from None


def fn_matches_regex(ctx, s, pattern):
    s = to_str(s)
    if s is None:
        return None
    return _regex(to_str(pattern)).fullmatch(s) is not None


def vec_matches_regex(ctx, n, s, pattern):
    text = _string_arg(pattern)
    if text is None:
        raise Fallback
    _regex(text)  # same validation as the row path
    return pc.match_substring_regex(str_array(s, n), pattern=f"^(?:{text})$")


def fn_extract_regex(ctx, s, pattern):
    s = to_str(s)
    if s is None:
        return None
    m = _regex(to_str(pattern)).search(s)
    if m is None:
        return None
    return [m.group(0), *m.groups()]
