"""The audit's HTML report: one self-contained file (inline CSS and SVG charts, no scripts, no
network), for an analyst to open or send."""

from __future__ import annotations

from decimal import Decimal
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from medpolicy.batch.audit import AuditResult

__all__ = ["write_report"]

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#1c2430;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d8dee6}
.meta{color:#56606e}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{border:1px solid #d8dee6;border-radius:6px;padding:10px 14px;min-width:150px}
.card b{display:block;font-size:20px}table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{border-bottom:1px solid #e6eaef;padding:5px 8px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}svg text{font:12px system-ui,sans-serif}
.clause{color:#56606e;font-size:12px}
"""


def _money(value: Any) -> str:
    return "$0.00" if value is None else f"${Decimal(value):,.2f}"


def _bars(rows: list[tuple[str, float]], title: str, width: int = 1000) -> str:
    """A horizontal bar chart as inline SVG."""
    if not rows:
        return "<p>Nothing flagged.</p>"
    label_w, bar_h, gap = 260, 22, 6
    top = max(v for _, v in rows) or 1.0
    height = len(rows) * (bar_h + gap) + 10
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for i, (label, value) in enumerate(rows):
        y = i * (bar_h + gap) + 5
        w = max(1.0, (width - label_w - 140) * value / top)
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
        )
        parts.append(
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#2f6db5"/>'
        )
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{escape(_money(value))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _columns(
    rows: list[tuple[str, float]], title: str, width: int = 1000, height: int = 220
) -> str:
    """A column chart (by month) as inline SVG."""
    if not rows:
        return "<p>No lines.</p>"
    top = max(v for _, v in rows) or 1.0
    step = (width - 40) / len(rows)
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height + 40}" viewBox="0 0 {width} {height + 40}">'
    ]
    for i, (label, value) in enumerate(rows):
        h = max(1.0, (height - 20) * value / top)
        x = 30 + i * step
        parts.append(
            f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" fill="#c2571a"><title>{escape(label)}: {escape(_money(value))}</title></rect>'
        )
        parts.append(
            f'<text x="{x + step * 0.35:.1f}" y="{height + 16}" text-anchor="middle">{escape(label[2:])}</text>'
        )
    parts.append(f'<line x1="25" y1="{height}" x2="{width}" y2="{height}" stroke="#888"/></svg>')
    return "".join(parts)


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], money: set[str]) -> str:
    head = "".join(
        f'<th class="{"n" if k in money or k.startswith("lines") else ""}">{escape(t)}</th>'
        for k, t in columns
    )
    body = []
    for row in rows:
        cells = []
        for key, _title in columns:
            value = row.get(key)
            if key in money:
                cells.append(f'<td class="n">{_money(value)}</td>')
            elif isinstance(value, int):
                cells.append(f'<td class="n">{value:,}</td>')
            else:
                cells.append(f"<td>{escape('' if value is None else str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def write_report(result: AuditResult) -> Path:
    plan, t = result.plan, result.totals
    by_check = result.summaries["summary_by_check"].to_pylist()
    by_month = result.summaries["summary_by_month"].to_pylist()
    by_provider = result.summaries["summary_by_provider"].to_pylist()
    clauses = {c.name: c.clause for c in plan.checks}
    cards = [
        ("Lines read", f"{t['lines_read']:,}"),
        ("Rejected", f"{t['lines_rejected']:,}"),
        ("Audited", f"{t['lines_in_scope']:,}"),
        ("Flagged", f"{t['lines_flagged']:,}"),
        ("Paid", _money(t["paid"])),
        ("At risk", _money(t["dollars_at_risk"])),
    ]
    check_rows = [
        {
            **r,
            "clause_text": f"{r['clause']}: {clauses[r['check']].text}"
            if r["check"] in clauses
            else r["clause"],
        }
        for r in by_check
    ]
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Claims audit: {escape(plan.policy_id)}</title>
<style>{_CSS}</style></head><body>
<h1>Claims audit: {escape(plan.hcpcs)} under {escape(plan.policy_id)}</h1>
<p class="meta">Policy version {escape(plan.policy_version)} (content hash {escape(plan.content_hash[:16])}…),
engine {escape(result.engine)}, {result.seconds:.1f} s.</p>
<div class="cards">{"".join(f'<div class="card">{escape(k)}<b>{escape(v)}</b></div>' for k, v in cards)}</div>
<h2>Dollars at risk by check</h2>
{_bars([(r["check"], float(r["dollars_at_risk"] or 0)) for r in by_check], "Dollars at risk by check")}
{_table(check_rows, [("check", "Check"), ("clause_text", "Clause"), ("lines_flagged", "Lines flagged"), ("dollars_at_risk", "At risk")], {"dollars_at_risk"})}
<h2>By month of service</h2>
{_columns([(r["month"], float(r["dollars_at_risk"] or 0)) for r in by_month], "Dollars at risk by month")}
{_table(by_month, [("month", "Month"), ("lines", "Lines"), ("lines_flagged", "Lines flagged"), ("paid", "Paid"), ("dollars_at_risk", "At risk")], {"paid", "dollars_at_risk"})}
<h2>Providers with the most at risk</h2>
{_bars([(r["billing_npi"], float(r["dollars_at_risk"] or 0)) for r in by_provider[:10]], "Top providers by dollars at risk")}
{_table(by_provider[:25], [("billing_npi", "Billing NPI"), ("lines", "Lines"), ("lines_flagged", "Lines flagged"), ("paid", "Paid"), ("dollars_at_risk", "At risk")], {"paid", "dollars_at_risk"})}
<h2>Checks</h2>
<table><thead><tr><th>Check</th><th>Clause</th></tr></thead><tbody>
{"".join(f'<tr><td>{escape(c.name)}</td><td>{escape(c.clause.section)}<div class="clause">{escape(c.clause.text)}</div></td></tr>' for c in plan.checks)}
</tbody></table>
<p class="meta">Flagged lines: flags.parquet, flags.csv. Rejected rows ({t["rejects"]:,}): rejects.csv.</p>
</body></html>
"""
    path = result.out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
