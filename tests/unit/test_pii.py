"""PII detection and masking: each type found, lookalikes that fail their checks left alone,
the evaluation's arithmetic, and log records masked before they are written."""

from __future__ import annotations

import json
import logging

import pytest

from ragops.domain.pii import PiiType, find_pii, mask_pii
from ragops.errors import InvalidInput
from ragops.log_masking import PiiMaskingFilter, install
from ragops.services.pii_evaluation import evaluate_pii


@pytest.mark.parametrize(
    ("text", "found", "kind"),
    [
        (
            "write to jane.doe+rag@example.co.uk today",
            "jane.doe+rag@example.co.uk",
            "EMAIL_ADDRESS",
        ),
        ("card 4111 1111 1111 1111 expires", "4111 1111 1111 1111", "CREDIT_CARD"),
        ("card 4454794511390933.", "4454794511390933", "CREDIT_CARD"),
        ("pay GB82 WEST 1234 5698 7654 32 now", "GB82 WEST 1234 5698 7654 32", "IBAN_CODE"),
        ("pay gb42nawi04454264788619.", "gb42nawi04454264788619", "IBAN_CODE"),
        ("SSN 078-05-1120 on file", "078-05-1120", "US_SSN"),
        ("from 192.168.10.4, again", "192.168.10.4", "IP_ADDRESS"),
        ("from 2001:db8::8a2e:370:7334 too", "2001:db8::8a2e:370:7334", "IP_ADDRESS"),
        ("key AKIAIOSFODNN7EXAMPLE leaked", "AKIAIOSFODNN7EXAMPLE", "AWS_ACCESS_KEY"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "AWS_SECRET_KEY",
        ),
        ("call +1 (555) 123-4567 x12 now", "+1 (555) 123-4567 x12", "PHONE_NUMBER"),
        ("call 07700 063 966.", "07700 063 966", "PHONE_NUMBER"),
        ("office (37) 788-063-Office", "(37) 788-063", "PHONE_NUMBER"),
    ],
)
def test_each_kind_is_found(text, found, kind):
    spans = find_pii(text)
    assert [(text[s.start : s.end], s.kind.value) for s in spans] == [(found, kind)]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("card 4111 1111 1111 1112 fails Luhn", None),
        ("GB83WEST12345698765432 has wrong check digits", None),
        ("SSN 666-12-3456 and 900-12-3456 are never issued", PiiType.US_SSN),
        ("version 300.1.2.3 and 999.1.1.1 are not addresses", None),
        ("on 2024-05-17 at 10:30 the meeting ended", None),
        ("house 370 3911 Fourth Avenue", None),
        ("see RFC 7231 and ISO 9001", None),
        # The loopback and unspecified addresses name every machine alike: no one's.
        ("open http://127.0.0.1:8000, or bind 0.0.0.0 and ::1", None),
    ],
)
def test_lookalikes_that_fail_their_checks_are_left_alone(text, kind):
    """Nothing is found (or nothing of ``kind``: 666-12-3456 is not an SSN, though it may
    still be masked as a phone number, which errs on the side of privacy)."""
    assert [s for s in find_pii(text) if kind is None or s.kind is kind] == []


def test_masking_replaces_every_span_and_keeps_the_rest():
    text = "Mail a.b@c.io or call 905-674-3793; card 4111-1111-1111-1111."
    masked, spans = mask_pii(text)
    assert masked == "Mail <EMAIL_ADDRESS> or call <PHONE_NUMBER>; card <CREDIT_CARD>."
    assert [s.kind for s in spans] == [
        PiiType.EMAIL_ADDRESS,
        PiiType.PHONE_NUMBER,
        PiiType.CREDIT_CARD,
    ]
    assert mask_pii("nothing personal here") == ("nothing personal here", [])


def test_a_card_number_is_not_also_a_phone_number():
    spans = find_pii("4111111111111111")
    assert [s.kind for s in spans] == [PiiType.CREDIT_CARD]


def test_evaluation_counts_overlaps_per_type(tmp_path):
    samples = [
        {
            "full_text": "Mail x@y.com, card 4111111111111111, call 905-674-3793.",
            "spans": [
                {"entity_type": "EMAIL_ADDRESS", "start_position": 5, "end_position": 12},
                {"entity_type": "CREDIT_CARD", "start_position": 19, "end_position": 35},
                {"entity_type": "PERSON", "start_position": 0, "end_position": 4},
            ],
        },
        {
            "full_text": "SSN 078-05-1120",
            "spans": [{"entity_type": "US_SSN", "start_position": 4, "end_position": 8}],
        },
        {
            "full_text": "IBAN GB82WEST12345698765433",
            "spans": [{"entity_type": "IBAN_CODE", "start_position": 5, "end_position": 27}],
        },
    ]
    path = tmp_path / "pii.json"
    path.write_text(json.dumps(samples))
    scores = evaluate_pii(path)
    assert scores["EMAIL_ADDRESS"].precision == 1.0 and scores["EMAIL_ADDRESS"].recall == 1.0
    assert scores["CREDIT_CARD"].support == 1 and scores["CREDIT_CARD"].recall == 1.0
    # The phone number was found but not labelled: a false positive.
    assert scores["PHONE_NUMBER"].precision == 0.0 and scores["PHONE_NUMBER"].support == 0
    # The SSN label overlaps the detected span: counted; the IBAN fails its check: missed.
    assert scores["US_SSN"].recall == 1.0
    assert scores["IBAN_CODE"].recall == 0.0 and scores["IBAN_CODE"].detected == 0
    assert "PERSON" not in scores


def test_evaluation_names_a_bad_file(tmp_path):
    with pytest.raises(InvalidInput, match="no such file"):
        evaluate_pii(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InvalidInput, match="not a JSON file"):
        evaluate_pii(tmp_path / "bad.json")
    (tmp_path / "shape.json").write_text('{"full_text": "x"}')
    with pytest.raises(InvalidInput, match="list of objects"):
        evaluate_pii(tmp_path / "shape.json")


def test_log_records_are_masked_at_the_handler(caplog):
    parent = logging.getLogger("ragops-test-masking")
    parent.propagate = False
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(self.format(record) + f" | {getattr(record, 'question', '')}")

    parent.addHandler(Collect())
    install(parent)
    install(parent)  # idempotent
    assert sum(isinstance(f, PiiMaskingFilter) for f in parent.handlers[0].filters) == 1
    child = logging.getLogger("ragops-test-masking.services")
    child.warning("user %s asked", "jane@example.com", extra={"question": "my SSN 078-05-1120?"})
    assert records == ["user <EMAIL_ADDRESS> asked | my SSN <US_SSN>?"]
