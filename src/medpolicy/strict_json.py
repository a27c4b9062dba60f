"""JSON text to values, refusing what a lenient parser would guess at.

Every surface that reads JSON (the REST API, the FHIR routes, the command line) reads it here, so
each refusal below holds everywhere:

- only UTF-8 text: a byte order mark, UTF-16 or UTF-32 is refused, never decoded by guessing;
- a key appears once in an object (Python's parser keeps the last of two ``her2`` keys, so a
  decision would rest on whichever the sender's library happened to write last);
- no ``NaN`` or ``Infinity`` (not JSON), no integer longer than ``MAX_INTEGER_DIGITS`` digits
  (Python refuses to convert one of more than 4,300 digits, with a ValueError);
- nesting at most ``MAX_DEPTH`` deep (Python's parser recurses, and so do the walkers after it);
- no NUL character in any string or key (PostgreSQL cannot store one, SQLite would), and no lone
  surrogate (``"\\ud800"``: Python reads it, but it is not text and cannot be written as UTF-8).

A refusal is a ``BodyError`` on ``(body)`` (or on the path of the string at fault), which the
service answers with a 400.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from medpolicy.errors import BodyError, FieldError

__all__ = ["MAX_DEPTH", "MAX_INTEGER_DIGITS", "decode", "unstorable_text"]

# A request nests 4 deep, a PAS Bundle about 12 (entry, resource, extension, coding...).
MAX_DEPTH = 40
# Far beyond any count, dose or identifier a request or a FHIR resource holds (int64 has 19).
MAX_INTEGER_DIGITS = 40

_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


class _Refused(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"duplicate key {_quoted(key)}: a key may appear once in an object")
            seen.add(key)
    return value


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _Refused(f"an integer of more than {MAX_INTEGER_DIGITS} digits")
    return int(text)


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON value")


def _quoted(text: str, limit: int = 60) -> str:
    shown = json.dumps(text[:limit], ensure_ascii=True)
    return shown if len(text) <= limit else shown[:-1] + '…"'


def _text(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    if data.startswith(_BOMS):
        raise _Refused("a byte order mark: send UTF-8 text without one")
    if b"\x00" in data:
        # JSON text never holds a raw NUL byte: this is UTF-16 or UTF-32.
        raise _Refused("not UTF-8 text (UTF-16 or UTF-32 is refused): send UTF-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused("not UTF-8 text") from None


def decode(data: bytes | str) -> Any:
    """The JSON value of ``data``; ``BodyError`` saying what is wrong (and where) otherwise."""
    try:
        text = _text(data)
        if text.startswith("\ufeff"):
            raise _Refused("a byte order mark: send UTF-8 text without one")
        value = json.loads(
            text, object_pairs_hook=_object, parse_int=_integer, parse_constant=_constant
        )
    except json.JSONDecodeError as exc:
        problem = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    except _Refused as exc:
        problem = exc.problem
    except RecursionError:
        problem = f"nested more than {MAX_DEPTH} deep"
    else:
        # Counting brackets over-counts (brackets inside strings count too), so most bodies need
        # no walk at all; a walk finds the real depth.
        if text.count("[") + text.count("{") > MAX_DEPTH and _too_deep(value):
            problem = f"nested more than {MAX_DEPTH} deep"
        elif _escapes(text) and (found := unstorable_text(value)) is not None:
            raise BodyError([FieldError(*found)])
        else:
            return value
    raise BodyError([FieldError("(body)", f"malformed JSON: {problem}")])


def _too_deep(value: Any) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _escapes(text: str) -> bool:
    """Could ``text`` hold an escaped NUL or a lone surrogate? (A quick look at the raw text:
    only then are the decoded strings walked.)"""
    return "\\u0000" in text or "\\ud" in text or "\\uD" in text


def unstorable_text(value: Any) -> tuple[str, str] | None:
    """(path, problem) of the first string or key that is not storable text: one holding a NUL
    character, or a lone surrogate; None when there is none."""
    for path, text in _strings(value, ""):
        shown = path.encode("utf-8", "backslashreplace").decode("utf-8") or "(body)"
        if "\x00" in text:
            return shown, "a NUL character (\\u0000) is not allowed"
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return shown, "not valid Unicode text (a lone surrogate, e.g. \\ud800)"
    return None


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, child in value.items():
            inner = f"{path}.{key}" if path else key
            yield inner, key
            yield from _strings(child, inner)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _strings(child, f"{path}[{i}]")
