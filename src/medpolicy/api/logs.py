"""Log hygiene: no member identifiers or clinical values in any log line.

The service's own log lines carry only case ids, outcomes and organizations. What remains is an
exception's *message*, which can quote input: a database's DETAIL line, a validation message with
the offending value. ``RedactExceptions`` keeps an exception's type and stack and withholds its
message; ``install`` puts it on the loggers that record exceptions.
"""

from __future__ import annotations

import logging
import traceback

__all__ = ["LOGGERS", "RedactExceptions", "install"]

LOGGERS = (
    "uvicorn",
    "uvicorn.error",
    "medpolicy",
    "medpolicy.api",
    "medpolicy.store",
    "sqlalchemy",
    "sqlalchemy.engine",
)


class RedactExceptions(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info or record.exc_info[1] is None:
            return True
        kind, _, trace = record.exc_info
        stack = "".join(traceback.format_tb(trace))
        name = f"{kind.__module__}.{kind.__qualname__}" if kind else "exception"
        record.msg = (
            f"{record.getMessage()}\nTraceback (most recent call last):\n{stack}"
            f"{name} (message withheld: it may quote member data)"
        )
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        return True


def install() -> None:
    redact = RedactExceptions()
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactExceptions) for f in logger.filters):
            logger.addFilter(redact)
