"""The owner's business-value report as a reader sees it: headless Chromium and the PDF."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "reports" / "test-artifacts"
CHROMIUM = shutil.which("chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.notebook,
    pytest.mark.xdist_group("notebooks"),
    pytest.mark.skipif(CHROMIUM is None, reason="run `make system-deps` to install chromium"),
]
# CI always has chromium (make test installs it); the skip only helps a bare laptop run.

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def published(owner_report: tuple[Any, Any]) -> Path:
    """The owner's business-value report, second week (so it says what changed)."""
    return owner_report[1].directory


def test_report_loads_without_console_errors_and_shows_headline_and_plots(
    published: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    messages: list[str] = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "business_value_report.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.on(
            "console",
            lambda m: (
                messages.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None
            ),
        )
        page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
        page.goto((published / "report.html").as_uri())
        page.wait_for_load_state("load")
        headline = page.locator(".impact-headline").inner_text()
        recommendation = page.locator(".impact-recommendation").inner_text()
        # The answer is the first thing on the page: above the first evidence section.
        headline_top = page.locator(".impact-headline").bounding_box()["y"]
        section = page.locator("h2", has_text="The effect on each metric")
        evidence_top = section.bounding_box()["y"]
        changes = page.locator(".impact-changes-summary").inner_text()
        images = page.locator("img")
        loaded = [
            images.nth(i).evaluate("img => img.complete && img.naturalWidth > 100")
            for i in range(images.count())
        ]
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert messages == []
    assert headline.startswith("The AI lowered handle time")
    assert "95% CI" in headline and "95% interval" in headline  # effect and money, with intervals
    assert recommendation.split(":")[1].strip() in ("SCALE", "STABILIZE", "PIVOT")
    assert headline_top < evidence_top
    assert changes.startswith("Since the previous report (run ")
    assert len(loaded) >= 7 and all(loaded)
    assert shot.stat().st_size > 100_000  # a long page with its plots, kept as an artifact


def test_pdf_renders_to_pages_that_are_not_blank(published: Path, tmp_path: Path) -> None:
    from PIL import Image, ImageStat

    pdf = published / "report.pdf"
    assert pdf.is_file(), "the runner writes report.pdf beside report.html"
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert pages
    for page in pages:
        with Image.open(page) as image:
            spread = ImageStat.Stat(image.convert("L")).stddev[0]
        assert spread > 5, f"{page.name} looks blank"
