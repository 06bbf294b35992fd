"""The web UI's large-file path in Debian's headless Chromium: a file over the API's request
limit goes to ``POST /v1/uploads``, then straight to "the bucket" (a second server on
another origin, as S3 is: the browser sends a CORS preflight, the form's fields, then the
file, and no credential), and the page polls the document until it is indexed.

The bucket stands in for S3: it checks what the presigned policy would (the key, the
size) and then, after answering, runs the bucket's event through the real event handler,
as the ingest function does on AWS."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ragops.adapters.localfs import LocalFsObjectStore
from ragops.bootstrap import build_container
from ragops.entrypoints.api import create_app
from ragops.services.object_events import handle_object_event
from ragops.settings import Settings
from tests.browser.test_web_ui import CHROMIUM, CHROMIUM_ARGS, GLACIERS
from tests.fakes import HashingEmbedder, ScriptedChatModel
from tests.servers import UvicornThread

pytestmark = pytest.mark.slow

MORAINES = b"# Moraines\n\n" + b"A moraine is a ridge of rock debris left by a glacier. " * 120


class PresigningFolder(LocalFsObjectStore):
    """The local folder, presigning POSTs to the stand-in bucket at ``bucket_url``."""

    bucket_url = ""

    def presign_upload(self, key, *, content_type, max_bytes, expires_in):
        fields = {"key": key, "Content-Type": content_type, "x-max-bytes": str(max_bytes)}
        return self.bucket_url + "/", {**fields, "policy": "signed-by-the-api"}


def bucket_app(container, seen: list[dict]) -> Starlette:
    async def post(request: Request) -> Response:
        form = await request.form()
        names = list(form.keys())
        upload = form["file"]
        data = await upload.read()
        seen.append(
            {
                "fields": names,
                "authorization": request.headers.get("authorization"),
                "size": len(data),
            }
        )
        if names[-1] != "file" or len(data) > int(form["x-max-bytes"]):
            xml = "<Error><Code>EntityTooLarge</Code><Message>too large</Message></Error>"
            return Response(xml, status_code=400, media_type="application/xml")
        key = str(form["key"])
        container.store.put(key, data, str(form["Content-Type"]))

        def bucket_event() -> None:  # the ingest function's work, once the POST is answered
            handle_object_event(
                container.ingest_context(), key=key, removed=False, tier_usable=True
            )

        return Response(status_code=204, background=BackgroundTask(bucket_event))

    # What the persistent stack's CORS rule allows: POST from the UI's origin.
    cors = Middleware(
        CORSMiddleware,
        allow_origins=[container.ui_origin],
        allow_methods=["POST"],
        allow_headers=["*"],
    )
    return Starlette(routes=[Route("/", post, methods=["POST"])], middleware=[cors])


@pytest.fixture
def servers(tmp_path):
    settings = Settings(
        data_dir=tmp_path / "data",
        min_relevance=0.05,
        answerability_threshold=0.0,
        max_request_body_bytes=20_000,  # a 6.7 KB file goes direct, as 5 MB would on Lambda
    )
    store = PresigningFolder(tmp_path / "objects")
    container = build_container(
        settings,
        store=store,
        embedder=HashingEmbedder(),
        chat_model=ScriptedChatModel(["unused"]),
    )
    # Built now: the API and the bucket's event would otherwise race to open embedded Chroma.
    container.index.count("default")
    seen: list[dict] = []
    with UvicornThread(create_app(container)) as api:
        container.ui_origin = api.url
        with UvicornThread(bucket_app(container, seen)) as bucket:
            store.bucket_url = bucket.url
            yield api, seen


def test_a_large_file_goes_straight_to_the_bucket_and_is_polled_until_indexed(servers):
    from playwright.sync_api import expect, sync_playwright

    api, seen = servers
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(api.url + "/")
            assert len(MORAINES) > 20_000 - 16_384
            page.set_input_files(
                "#file-input",
                files=[
                    {"name": "moraines.md", "mimeType": "text/markdown", "buffer": MORAINES},
                    {"name": "glaciers.md", "mimeType": "text/markdown", "buffer": GLACIERS},
                    {
                        "name": "huge.exe",
                        "mimeType": "application/x-msdownload",
                        "buffer": MORAINES,
                    },
                ],
            )
            expect(page.locator("#uploads li.ok", has_text="moraines.md")).to_contain_text(
                "created"
            )
            expect(page.locator("#uploads li.ok", has_text="glaciers.md")).to_contain_text(
                "created"
            )
            expect(page.locator("#uploads li.error", has_text="huge.exe")).to_contain_text(
                "unsupported file type"
            )
            row = page.locator("#documents tbody tr", has_text="moraines.md")
            expect(row.locator(".doc-status")).to_have_text("indexed")
        finally:
            browser.close()
    # Only the large file went to the bucket: fields first, the file last, no credential.
    assert len(seen) == 1
    (post,) = seen
    assert post["size"] == len(MORAINES) and post["authorization"] is None
    assert post["fields"][-1] == "file" and post["fields"][0] == "key"
