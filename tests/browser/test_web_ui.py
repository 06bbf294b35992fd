"""The web UI in a real browser: Debian's headless Chromium driven by Playwright, against
the API on uvicorn at 127.0.0.1 (models are the test fakes: this is about the UI)."""

from __future__ import annotations

import shutil

import pytest

from ragops.bootstrap import build_container
from ragops.entrypoints.api import create_app
from ragops.settings import Settings
from tests.fakes import HashingEmbedder, ScriptedChatModel
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
