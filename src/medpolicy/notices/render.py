"""A notice as HTML (Jinja2, every value escaped) and as PDF (WeasyPrint over that HTML).

Both are deterministic: the same case gives the same bytes. The HTML holds no time but the
case's own; the PDF's metadata dates are the notice's issue time (from the case), and WeasyPrint
writes no other varying field. WeasyPrint fetches nothing: the notice's HTML has no external
resources, and any URL it might name is refused (``_no_fetching``).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, select_autoescape

from medpolicy.notices.build import Notice

__all__ = ["FORMATS", "MEDIA_TYPES", "NoticeFormat", "render_html", "render_pdf"]

NoticeFormat = Literal["html", "pdf"]
FORMATS: tuple[NoticeFormat, ...] = ("html", "pdf")
MEDIA_TYPES: dict[str, str] = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}

_ENV = Environment(
    loader=FileSystemLoader(str(Path(__file__).resolve().parent / "templates")),
    autoescape=select_autoescape(default=True, default_for_string=True),
    keep_trailing_newline=True,
)


def _long_date(value: date | datetime) -> str:
    return f"{value:%B} {value.day}, {value.year}"


_ENV.filters["long_date"] = _long_date


def render_html(notice: Notice) -> str:
    return _ENV.get_template("notice.html").render(notice=notice)


def _no_fetching(url: str, *_: Any, **__: Any) -> dict[str, Any]:
    raise ValueError(f"a notice fetches nothing ({url[:60]})")


def render_pdf(notice: Notice) -> bytes:
    from weasyprint import HTML  # imported on first use: it loads Pango

    pdf = HTML(string=render_html(notice), url_fetcher=_no_fetching).write_pdf()
    assert isinstance(pdf, bytes)
    return pdf
