"""Counting AEP Local's answers from its access log, for the fuzzing tests."""

from __future__ import annotations

import collections
import logging


class StatusCounter(logging.Handler):
    """Counts the answers AEP Local's access log records (``METHOD path status ms``), by status class."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.counts: collections.Counter[str] = collections.Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "%s %s %d %.1fms" and len(record.args) == 4:
            self.counts[f"{record.args[2] // 100}xx"] += 1
