"""Exception messages can quote input; the service's loggers keep the type and stack only."""

from __future__ import annotations

import io
import logging

from medpolicy.api import logs


def test_exception_messages_are_withheld() -> None:
    logs.install()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:
        member = "".join(["M77", "30412"])  # (a literal would show in the stack's source lines)
        try:
            raise ValueError(f"duplicate key (member_id)=({member})")
        except ValueError:
            logger.exception("Exception in ASGI application")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "M7730412" not in text
    assert "Exception in ASGI application" in text
    assert "builtins.ValueError (message withheld" in text
    assert "test_exception_messages_are_withheld" in text, "the stack is kept"
