"""NLM's LHC-Forms (npm ``lforms``) in Debian's Chromium, driven by Playwright: the page is served
from ``node_modules`` through Playwright's routing (no server, no network), and the EHR side of a
DTR launch (the patient launch context and the x-fhir-query searches) is ``harness.js`` over a
record the test passes in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.fhir.conformance.tools import NODE_MODULES
from tests.support import REPO

HERE = Path(__file__).resolve().parent / "lforms"
LFORMS = NODE_MODULES / "lforms" / "dist" / "lforms"
ORIGIN = "http://lforms.test"
ARTIFACTS = REPO / "test-artifacts"
_TYPES = {".html": "text/html", ".js": "application/javascript", ".css": "text/css"}


def _serve(route: Any) -> None:
    path = route.request.url.removeprefix(ORIGIN).split("?")[0]
    file = (
        LFORMS / path.removeprefix("/lforms/") if path.startswith("/lforms/") else HERE / path[1:]
    )
    if not file.is_file():
        route.fulfill(status=404, body="")
        return
    kind = _TYPES.get(file.suffix, "application/octet-stream")
    route.fulfill(status=200, body=file.read_bytes(), headers={"content-type": kind})


class Form:
    """One rendered form: choose answers the way a clinician does, read back what shows."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.route(f"{ORIGIN}/**", _serve)
        page.goto(f"{ORIGIN}/page.html")
        page.wait_for_function("() => !!(window.LForms && window.LForms.Util && window.renderForm)")

    def render(
        self, questionnaire: dict[str, Any], record: list[dict[str, Any]], patient: str | None
    ) -> None:
        self.page.evaluate("([q, r, p]) => renderForm(q, r, p)", [questionnaire, record, patient])

    def _box(self, link: str) -> Any:
        return self.page.locator(f'[id="{link}/1/1"]')

    def choose(self, link: str, text: str) -> None:
        self._box(link).click()
        self.page.locator("li:visible", has_text=text).first.click()
        self.page.locator("body").click(position={"x": 2, "y": 2})

    def fill(self, link: str, value: str) -> None:
        self._box(link).fill(value)
        self._box(link).press("Tab")

    def value(self, link: str) -> str:
        return str(self._box(link).input_value())

    def unit(self, link: str) -> str:
        return str(self.page.locator(f'[id="unit_{link}/1/1"]').input_value())

    def answer(self, link: str, yes: bool) -> None:
        """A yes/no question: its radio buttons are Yes, No, Not answered."""
        radios = self.page.locator(f'input[type=radio][name^="radiogroup_{link}/"]')
        radios.nth(0 if yes else 1).locator("xpath=ancestor::label[1]").click()

    def shows(self, text: str) -> bool:
        return bool(self.page.get_by_text(text, exact=True).first.is_visible())

    def response(self) -> dict[str, Any]:
        found: dict[str, Any] = self.page.evaluate("() => formResponse()")
        return found

    def requests(self) -> list[str]:
        return list(self.page.evaluate("() => window.requests"))

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=True)
        return path


def record_of(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(json.dumps(e["resource"])) for e in bundle["entry"]]
