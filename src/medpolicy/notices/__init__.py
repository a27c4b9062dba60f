"""Determination notices: approval, request for information and denial, for the member or the
prescriber, as HTML or PDF (``GET /api/v1/cases/{id}/notice``; the reviewer app's case page).

    from medpolicy.notices import build_notice, render_html, render_pdf, load_notice_settings

    notice = build_notice(case, store.reviewer_decisions(case.id), "member", load_notice_settings())
    html, pdf = render_html(notice), render_pdf(notice)

``build_notice`` raises ``NoNotice`` for a case with no determination to give notice of: one
awaiting a clinician reviewer (the engine never denies), or one of another program.
"""

from medpolicy.notices.build import AUDIENCES, Audience, NoNotice, Notice, build_notice
from medpolicy.notices.render import FORMATS, MEDIA_TYPES, NoticeFormat, render_html, render_pdf
from medpolicy.notices.settings import NoticeSettings, load_notice_settings

__all__ = [
    "AUDIENCES",
    "FORMATS",
    "MEDIA_TYPES",
    "Audience",
    "NoNotice",
    "Notice",
    "NoticeFormat",
    "NoticeSettings",
    "build_notice",
    "load_notice_settings",
    "render_html",
    "render_pdf",
]
