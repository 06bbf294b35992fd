"""Parser fuzzing: ``parse_document`` on random bytes and on mutated valid and bad files, for
every supported extension. It either returns a document or raises ``DocumentRejected``
(or a subclass); any other exception is a crash that an upload would turn into a 500.

Bounded and derandomized for CI (the same examples on every run). For a longer local run
with fresh random examples:

    RAGOPS_FUZZ_EXAMPLES=5000 RAGOPS_FUZZ_RANDOM=1 .venv/bin/pytest tests/fuzz/test_parser_fuzz.py

and ``scripts/fuzz_parsers.py`` (atheris, coverage-guided) for runs of hours.
"""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ragops.domain.parsing import SUPPORTED_TYPES, parse_document
from ragops.errors import DocumentRejected
from tests.fuzz.corpus import (
    BAD_FILES,
    LIMIT,
    MAGIC,
    TOKENS,
    crash_regressions,
    docx_members,
    pack_docx,
    valid_files,
)

EXAMPLES = int(os.environ.get("RAGOPS_FUZZ_EXAMPLES", "500"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("RAGOPS_FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

EXTENSIONS = sorted(SUPPORTED_TYPES)
VALID = valid_files()
SEEDS = {**VALID, **BAD_FILES}


@st.composite
def mutations(draw, seed: bytes) -> bytes:
    """``seed`` after a few truncations, byte flips, insertions (random junk or format
    tokens), deletions and duplications."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        size = len(data)
        at = draw(st.integers(min_value=0, max_value=size))
        end = draw(st.integers(min_value=at, max_value=min(size, at + 256)))
        operation = draw(
            st.sampled_from(["truncate", "flip", "insert", "token", "delete", "duplicate"])
        )
        if operation == "truncate":
            del data[at:]
        elif operation == "flip" and at < size:
            data[at] ^= draw(st.integers(min_value=1, max_value=255))
        elif operation == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif operation == "token":
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif operation == "delete":
            del data[at:end]
        elif operation == "duplicate":
            data[end:end] = data[at:end] * draw(st.integers(min_value=1, max_value=4))
    return bytes(data)


def must_not_crash(name: str, data: bytes) -> None:
    try:
        parsed = parse_document(name, data, max_bytes=LIMIT)
    except DocumentRejected as exc:
        assert exc.filename and exc.reason
        assert 400 <= exc.status < 500
    else:
        assert any(section.text.strip() for section in parsed.sections)


def test_the_seed_corpus_parses_or_is_rejected():
    for name, data in SEEDS.items():
        must_not_crash(name, data)
    for name, data in VALID.items():
        assert parse_document(name, data, max_bytes=LIMIT).sections, name


@pytest.mark.slow
@FUZZ
@given(
    extension=st.sampled_from(EXTENSIONS),
    prefix=st.sampled_from([b"", *MAGIC]),
    data=st.binary(max_size=4096),
)
def test_random_bytes(extension, prefix, data):
    must_not_crash(f"random{extension}", prefix + data)


@pytest.mark.slow
@FUZZ
@given(
    extension=st.sampled_from(EXTENSIONS),
    text=st.text(max_size=2000),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1"]),
)
def test_random_text(extension, text, encoding):
    must_not_crash(f"random{extension}", text.encode(encoding, errors="replace"))


@pytest.mark.slow
@FUZZ
@given(data=st.data(), seed=st.sampled_from(sorted(SEEDS)), rename=st.booleans())
def test_mutated_corpus_files(data, seed, rename):
    """Every seed mutated; half of them parsed under another supported extension."""
    mutated = data.draw(mutations(SEEDS[seed]))
    name = seed
    if rename:
        name = "renamed" + data.draw(st.sampled_from(EXTENSIONS))
    must_not_crash(name, mutated)


DOCX_MEMBERS = docx_members(VALID["letters.docx"])


@pytest.mark.slow
@FUZZ
@given(
    data=st.data(),
    part=st.sampled_from(sorted(DOCX_MEMBERS)),
    drop=st.sampled_from([None, *sorted(DOCX_MEMBERS)]),
)
def test_mutated_docx_parts(data, part, drop):
    """A well-formed ZIP whose XML parts are mutated (or missing): past the ZIP layer, into
    python-docx and its XML parser."""
    members = dict(DOCX_MEMBERS)
    members[part] = data.draw(mutations(members[part]))
    if drop is not None:
        members.pop(drop, None)
    must_not_crash("mutated.docx", pack_docx(members))


@pytest.mark.parametrize(("name", "data"), sorted(crash_regressions().items()))
def test_files_that_crashed_the_parsers_are_rejected(name, data):
    with pytest.raises(DocumentRejected) as caught:
        parse_document(name, data, max_bytes=LIMIT)
    assert caught.value.status == 422
    assert caught.value.reason.startswith(("corrupt", "unsupported PDF feature"))


@pytest.mark.parametrize(
    ("name", "data"),
    [
        # Found by fuzzing: the heading and front-matter regexes backtracked in cubic time,
        # so a few kilobytes of Markdown held a worker for minutes.
        ("spaces.md", b"# a" + b" " * 50_000 + b"x\n"),
        ("hashes.md", b"# a" + b" #" * 50_000 + b"x\n"),
        ("titles.md", b"---\n" + b"title: a\n" * 50_000),
        ("blank-title.md", b"---\ntitle:" + b" " * 50_000 + b"\n"),
        ("nested.html", b"<div>" * 20_000 + b"deep" + b"</div>" * 20_000),
    ],
)
def test_adversarial_text_parses_in_linear_time(name, data):
    started = time.perf_counter()
    must_not_crash(name, data)
    assert time.perf_counter() - started < 10
