"""The web UI in a real browser: Debian's headless Chromium driven by Playwright, against
the API on uvicorn at 127.0.0.1 (models are the test fakes: this is about the UI)."""

from __future__ import annotations

import shutil

import pytest

from ragops.bootstrap import build_container
from ragops.entrypoints.api import create_app
from ragops.settings import Settings
from tests.fakes import HashingEmbedder, ScriptedChatModel
from tests.samples import make_pdf
from tests.servers import UvicornThread

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
GLACIERS = (
    b"# Glacier field notes\n\nGlaciers carve U-shaped valleys as they slide downhill. "
    b"The Aletsch Glacier is the largest glacier in the Alps, about 23 kilometres long.\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # The product's default answer mode (extractive); the fake embedder's similarities
    # are not the answer model's, so the answerability gate is left open.
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("ui"), min_relevance=0.05, answerability_threshold=0.0
    )
    chat = ScriptedChatModel(["The Aletsch Glacier is about 23 kilometres long [1]."])
    container = build_container(settings, embedder=HashingEmbedder(), chat_model=chat)
    with UvicornThread(create_app(container)) as running:
        running.container = container
        yield running


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM):
        raise RuntimeError("Debian's chromium is missing: `make test` installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(server.url + "/")
    yield page
    context.close()


def test_upload_ask_open_citation_vote_and_delete(page):
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name="ragops")).to_be_visible()
    page.set_input_files(
        "#file-input",
        files=[{"name": "glaciers.md", "mimeType": "text/markdown", "buffer": GLACIERS}],
    )
    expect(page.locator("#uploads li.ok")).to_contain_text("glaciers.md")
    row = page.locator("#documents tbody tr", has_text="glaciers.md")
    expect(row.locator(".doc-status")).to_have_text("indexed")

    page.get_by_label("Question").fill("How long is the Aletsch Glacier?")
    with page.expect_response("**/v1/query/stream") as streamed:
        page.get_by_role("button", name="Ask").click()
    assert streamed.value.headers["content-type"].startswith("text/event-stream")
    expect(page.locator("#answer")).to_be_visible()
    expect(page.locator("#answer-text")).to_contain_text("23 kilometres")
    source = page.locator("#citations button").first
    expect(source).to_contain_text("Glacier field notes")
    source.click()
    expect(page.locator("#passage")).to_be_visible()
    expect(page.locator("#passage-where")).to_contain_text("glaciers.md")
    expect(page.locator("#passage-text")).to_contain_text("Aletsch Glacier")
    meta = page.locator("#answer-meta")
    expect(meta).to_contain_text("extractive: the passages' own sentences")
    expect(meta).to_contain_text("not cached")

    page.get_by_role("button", name="Thumbs up").click()
    expect(page.locator("#feedback-status")).to_have_text("Thanks for the feedback.")

    # The same question again (the box is emptied once answered) comes from the cache, and
    # the UI says so: it stands on its own words, so the conversation does not scope it.
    expect(page.get_by_label("Question")).to_have_value("")
    page.get_by_label("Question").fill("How long is the Aletsch Glacier?")
    page.get_by_role("button", name="Ask").click()
    expect(meta).to_contain_text("exact hit")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete glaciers.md").click()
    expect(page.locator("#documents tbody tr", has_text="glaciers.md")).to_have_count(0)
    expect(page.locator("#docs-empty")).to_be_visible()


def test_a_two_turn_conversation_and_reopening_it_from_the_list(page):
    from playwright.sync_api import expect

    page.set_input_files(
        "#file-input",
        files=[{"name": "alps.md", "mimeType": "text/markdown", "buffer": GLACIERS}],
    )
    expect(page.locator("#uploads li.ok")).to_contain_text("alps.md")

    page.get_by_label("Question").fill("Where is the Aletsch Glacier?")
    page.get_by_role("button", name="Ask").click()
    thread = page.locator("#thread .turn")
    expect(thread).to_have_count(1)
    expect(page.locator("#thread-status")).to_contain_text("Where is the Aletsch Glacier?")

    # The follow-up leans on the first question; the thread says what it was asked as.
    page.get_by_label("Question").fill("How long is it?")
    page.get_by_role("button", name="Ask").click()
    expect(thread).to_have_count(2)
    expect(thread.nth(1)).to_contain_text("asked as: How long is the Aletsch Glacier?")
    expect(thread.nth(1)).to_contain_text("23 kilometres")
    expect(page.locator("#answer-text")).to_contain_text("23 kilometres")
    listed = page.locator("#conversations li", has_text="Where is the Aletsch Glacier?")
    expect(listed).to_contain_text("2 questions")

    # A new conversation starts empty; the first stays in the list.
    page.get_by_role("button", name="New conversation").click()
    expect(page.locator("#thread")).to_be_hidden()
    page.get_by_label("Question").fill("What do glaciers carve?")
    page.get_by_role("button", name="Ask").click()
    expect(thread).to_have_count(1)
    expect(page.locator("#conversations li", has_text="What do glaciers carve?")).to_have_count(1)

    # Reopened from the list, in a fresh page: its turns, and it goes on from there.
    page.reload()
    page.get_by_role("button", name="Open conversation: Where is the Aletsch Glacier?").click()
    expect(thread).to_have_count(2)
    expect(thread.nth(0)).to_contain_text("Where is the Aletsch Glacier?")
    expect(thread.nth(1)).to_contain_text("asked as: How long is the Aletsch Glacier?")
    page.get_by_label("Question").fill("What does it carve?")
    page.get_by_role("button", name="Ask").click()
    expect(thread).to_have_count(3)
    expect(thread.nth(2)).to_contain_text("asked as: What does the Aletsch Glacier carve?")
    expect(listed).to_contain_text("3 questions")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete conversation: Where is the Aletsch Glacier?").click()
    expect(listed).to_have_count(0)
    expect(page.locator("#thread")).to_be_hidden()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete alps.md").click()
    expect(page.locator("#documents tbody tr", has_text="alps.md")).to_have_count(0)


def test_a_citation_opens_the_pdf_at_its_page_with_the_passage_highlighted(page):
    from playwright.sync_api import expect

    pdf = make_pdf(
        [
            "Moraines are ridges of rock that a glacier leaves behind.",
            "The Rhone Glacier feeds Lake Geneva with meltwater every summer.",
            "Crevasses open where the ice flows over a steeper slope.",
        ],
        title="Ice atlas",
    )
    page.set_input_files(
        "#file-input", files=[{"name": "atlas.pdf", "mimeType": "application/pdf", "buffer": pdf}]
    )
    expect(page.locator("#uploads li.ok")).to_contain_text("atlas.pdf")
    page.get_by_label("Question").fill("Which lake does the Rhone Glacier feed?")
    page.get_by_role("button", name="Ask").click()
    source = page.locator("#citations button", has_text="page 2").first
    expect(source).to_be_visible()
    with page.expect_response("**/vendor/pdfjs/pdf.min.mjs") as script:
        source.click()
    assert script.value.ok and "javascript" in script.value.headers["content-type"]
    status = page.locator("#viewer-status")
    expect(status).to_contain_text("atlas.pdf, page 2 of 3")
    expect(status).to_contain_text("highlighted")
    expect(page.locator("#pdf-page")).to_be_visible()
    cited = page.locator("#pdf-text span.cited")
    expect(cited.first).to_contain_text("Rhone Glacier")
    expect(cited.first).to_be_in_viewport()
    # The page is drawn: the canvas has dark (text) pixels, not a blank page.
    inked = page.evaluate(
        """() => {
            const canvas = document.getElementById('pdf-canvas');
            const { width, height } = canvas;
            const pixels = canvas.getContext('2d').getImageData(0, 0, width, height).data;
            let dark = 0;
            for (let i = 0; i < pixels.length; i += 4) {
                if (pixels[i + 3] > 0 && pixels[i] < 128) dark++;
            }
            return dark;
        }"""
    )
    assert inked > 100

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete atlas.pdf").click()
    expect(page.locator("#documents tbody tr", has_text="atlas.pdf")).to_have_count(0)


def test_without_pdfjs_a_cited_pdf_opens_as_its_text(page):
    """An install without npm has no pdf.js: the citation still opens, as the PDF's text
    with the passage marked, and says why the page is not drawn."""
    from playwright.sync_api import expect

    page.route("**/vendor/pdfjs/**", lambda route: route.fulfill(status=404, body="missing"))
    pdf = make_pdf(["Moraines are ridges of rock.", "The Rhone Glacier feeds Lake Geneva."])
    page.set_input_files(
        "#file-input", files=[{"name": "small.pdf", "mimeType": "application/pdf", "buffer": pdf}]
    )
    expect(page.locator("#uploads li.ok")).to_contain_text("small.pdf")
    page.get_by_label("Question").fill("Which lake does the Rhone Glacier feed?")
    page.get_by_role("button", name="Ask").click()
    page.locator("#citations button", has_text="page 2").first.click()
    expect(page.locator("#doc-text mark.cited")).to_contain_text("Lake Geneva")
    expect(page.locator("#pdf-page")).to_be_hidden()
    expect(page.locator("#viewer-status")).to_contain_text("page 2; the page itself could not")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete small.pdf").click()
    expect(page.locator("#documents tbody tr", has_text="small.pdf")).to_have_count(0)


def test_a_citation_of_a_text_document_opens_its_text_at_the_passage(page):
    from playwright.sync_api import expect

    filler = "".join(
        f"## Part {n}\n\nThis part is about weather station {n}.\n\n" for n in range(40)
    )
    notes = (
        "# Field notes\n\n"
        + filler
        + "## Aletsch\n\nThe Aletsch Glacier is about 23 kilometres long.\n"
    ).encode()
    page.set_input_files(
        "#file-input", files=[{"name": "notes.md", "mimeType": "text/markdown", "buffer": notes}]
    )
    expect(page.locator("#uploads li.ok")).to_contain_text("notes.md")
    page.get_by_label("Question").fill("How long is the Aletsch Glacier?")
    page.get_by_role("button", name="Ask").click()
    page.locator("#citations button", has_text="Field notes").first.click()
    mark = page.locator("#doc-text mark.cited")
    expect(mark).to_contain_text("23 kilometres")
    expect(mark).to_be_in_viewport()  # scrolled to, past the forty parts before it
    expect(page.locator("#viewer-status")).to_contain_text("notes.md: the cited passage")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete notes.md").click()
    expect(page.locator("#documents tbody tr", has_text="notes.md")).to_have_count(0)


def test_a_bad_file_shows_why_in_words(page):
    from playwright.sync_api import expect

    page.set_input_files(
        "#file-input",
        files=[
            {"name": "broken.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.5\n%trunc"},
            {"name": "notes.exe", "mimeType": "application/octet-stream", "buffer": b"MZ\x00"},
        ],
    )
    broken = page.locator("#uploads li.error", has_text="broken.pdf")
    expect(broken.locator(".upload-result")).to_contain_text("PDF")
    unsupported = page.locator("#uploads li.error", has_text="notes.exe")
    expect(unsupported.locator(".upload-result")).not_to_be_empty()
    expect(page.locator("#documents tbody tr")).to_have_count(0)


def test_the_page_is_usable_from_the_keyboard(page):
    from playwright.sync_api import expect

    order = []
    for _ in range(3):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate(
                "document.activeElement.getAttribute('href') || document.activeElement.id"
            )
        )
    assert order == ["/", "/ops", "question"]  # the page links, then the question
    page.keyboard.type("Anything about glaciers?")
    page.keyboard.press("Enter")  # Enter asks; Shift+Enter would start a new line
    expect(page.locator("#answer")).to_be_visible()
    expect(page.locator("#answer-text")).not_to_be_empty()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "ask-button"


def test_maintenance_mode_is_shown_and_uploads_still_accepted(page, server):
    from playwright.sync_api import expect

    from ragops.domain.tier import TierState

    server.container.tier_state.set(TierState.PAUSED)
    try:
        page.reload()
        banner = page.locator("#tier-banner")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("paused")
        page.set_input_files(
            "#file-input",
            files=[{"name": "later.md", "mimeType": "text/markdown", "buffer": GLACIERS}],
        )
        expect(page.locator("#uploads li.ok", has_text="later.md")).to_contain_text(
            "indexed when the search tier resumes"
        )
        row = page.locator("#documents tbody tr", has_text="later.md")
        expect(row.locator(".doc-status")).to_contain_text("pending")
        page.get_by_label("Question").fill("How long is the Aletsch Glacier?")
        page.get_by_role("button", name="Ask").click()
        expect(page.locator("#ask-status")).to_contain_text("not available")
    finally:
        server.container.tier_state.set(TierState.ACTIVE)


def test_operations_page_shows_tier_documents_cache_and_cost(page, server):
    from playwright.sync_api import expect

    page.set_input_files(
        "#file-input",
        files=[{"name": "ops.md", "mimeType": "text/markdown", "buffer": GLACIERS}],
    )
    expect(page.locator("#documents tbody tr", has_text="ops.md")).to_have_count(1)
    for _ in range(2):  # a miss, then a cache hit
        page.get_by_label("Question").fill("How long is the Aletsch Glacier?")
        page.get_by_role("button", name="Ask").click()
        expect(page.locator("#answer")).to_be_visible()
    page.get_by_role("link", name="Operations").click()
    expect(page.get_by_role("heading", name="ragops operations")).to_be_visible()
    expect(page.locator("#tier-state")).to_have_text("active")
    expect(page.locator("#doc-figures")).to_contain_text("indexed")
    today = page.locator("#today-figures")
    expect(today).to_contain_text("Cache hit rate")
    expect(today).not_to_contain_text("no queries yet")
    expect(page.locator("#chart svg rect")).to_have_count(14)
    expect(page.locator("#week tbody tr")).to_have_count(7)


def test_with_authentication_on_the_page_asks_for_a_key_and_uses_it(browser, tmp_path):
    from playwright.sync_api import expect

    from ragops.services.auth import create_api_key
    from ragops.services.ingestion import UploadedFile, ingest_files

    settings = Settings(data_dir=tmp_path / "auth", min_relevance=0.05, auth="api-key")
    chat = ScriptedChatModel(["Tides follow the Moon [1]."])
    container = build_container(settings, embedder=HashingEmbedder(), chat_model=chat)
    _, key = create_api_key(container.store, "acme", "browser")
    ingest_files(
        container.ingest_context(),
        tenant="acme",
        files=[UploadedFile("tides.md", b"# Tides\n\nThe Moon pulls the oceans into tides.")],
    )
    with UvicornThread(create_app(container)) as running:
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(running.url + "/")
        expect(page.locator("#key-form")).to_be_visible()
        expect(page.locator("#key-status")).to_contain_text("Bearer")
        page.get_by_label("API key or token").fill(key)
        page.get_by_role("button", name="Use it").click()
        expect(page.locator("#key-form")).to_be_hidden()
        expect(page.locator("#documents")).to_contain_text("tides.md")
        # The key stays in this tab's session storage, never in the address.
        assert key not in page.url
        context.close()
