"""Screenshots of the web UI for docs/: the main screen with a question, its follow-up and
the cited passage open in its document, and the operations page. Runs the product on its
embedded defaults (real local models) in a temporary data directory, ingests docs/*.md,
asks in headless Chromium and saves PNGs.

    .venv/bin/python scripts/screenshots.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.servers: the uvicorn thread the tests use

from ragops.bootstrap import build_container  # noqa: E402
from ragops.entrypoints.api import create_app  # noqa: E402
from ragops.services.ingestion import UploadedFile, receive_uploads  # noqa: E402
from ragops.settings import Settings  # noqa: E402
from tests.servers import UvicornThread  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]  # fmt: skip
QUESTION = "What happens to queries while the tier is paused?"
FOLLOW_UP = "How long does it take to resume?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory() as data:
        container = build_container(Settings(data_dir=Path(data)))
        files = [
            UploadedFile(path.name, path.read_bytes())
            for path in sorted((ROOT / "docs").glob("*.md"))
        ]
        list(receive_uploads(container.ingest_context(), tenant="default", files=files,
                             tier_usable=True, tier_reason="", index_now=True))  # fmt: skip
        with UvicornThread(create_app(container)) as server, sync_playwright() as playwright:
            chromium = shutil.which("chromium") or "/usr/bin/chromium"
            browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            page.set_default_timeout(180_000)
            page.goto(server.url + "/")
            page.get_by_label("Question").fill(QUESTION)
            page.get_by_role("button", name="Ask").click()
            expect(page.locator("#answer")).to_be_visible(timeout=300_000)
            expect(page.locator("#thread .turn")).to_have_count(1, timeout=60_000)
            page.get_by_label("Question").fill(FOLLOW_UP)
            page.get_by_role("button", name="Ask").click()
            expect(page.locator("#thread .turn")).to_have_count(2, timeout=60_000)
            page.locator("#citations button").first.click()
            expect(page.locator("#doc-text mark.cited")).to_be_visible()
            args.out.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out / "ui-answer.png"), full_page=True)
            page.get_by_label("Question").fill(QUESTION)
            page.get_by_role("button", name="Ask").click()  # a cache hit for the ops page
            expect(page.locator("#answer-meta")).to_contain_text("exact hit", timeout=60_000)
            page.goto(server.url + "/ops")
            expect(page.locator("#chart svg")).to_be_visible()
            page.screenshot(path=str(args.out / "ui-operations.png"), full_page=True)
            browser.close()
    sys.stdout.write(f"wrote {args.out / 'ui-answer.png'} and {args.out / 'ui-operations.png'}\n")


if __name__ == "__main__":
    main()
