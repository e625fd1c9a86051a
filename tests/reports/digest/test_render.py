"""Digest rendering: Slack Block Kit checked by slack_sdk's own models and Slack's limits, the
Adaptive Card by the official v1.5 schema, plain text aligned; user strings inert everywhere."""

from __future__ import annotations

import functools
import html
import json
import re
import subprocess
import sys
from dataclasses import replace
from importlib.resources import files

import jinja2
import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from reports.digest import render
from reports.digest.render import (
    build_template_environment,
    card_text,
    display_width,
    render_slack,
    render_teams_card,
    render_text,
    shared_environment,
    slack_code,
    slack_mrkdwn,
    table,
)
from reports.i18n import translator
from reports.languages import LANGUAGES
from tests.reports.digest.samples import NASTY, huge_digest, nasty_digest, sample_digest

CADENCES = ("weekly", "monthly")


# ---------------------------------------------------------------------------- helpers
def _walk(node):
    """Every dict inside a JSON value, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _text_objects(message: dict) -> list[dict]:
    return [node for node in _walk(message["blocks"])
            if node.get("type") in ("plain_text", "mrkdwn") and "text" in node]


def assert_valid_slack_message(message: dict) -> None:
    assert set(message) == {"text", "blocks"}
    assert message["text"].strip() and len(message["text"]) <= render.MAX_TEXT
    blocks = message["blocks"]
    assert 0 < len(blocks) <= 50
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()
        assert parsed.to_dict() == block
        if block["type"] == "header":
            assert 0 < len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert 0 < len(block["text"]["text"]) <= 3000
            assert len(block.get("fields", [])) <= 10
            for field in block.get("fields", []):
                assert 0 < len(field["text"]) <= 2000
        if block["type"] == "context":
            assert 0 < len(block["elements"]) <= 10
            for element in block["elements"]:
                assert 0 < len(element["text"]) <= 3000
    for obj in _text_objects(message):
        if obj["type"] == "mrkdwn":
            assert obj.get("verbatim") is True
            # Only entities: no raw < or > (mentions, links), no bare &.
            assert "<" not in obj["text"] and ">" not in obj["text"]
            assert not re.search(r"&(?!amp;|lt;|gt;)", obj["text"])


@functools.cache
def _card_validator() -> jsonschema.Draft6Validator:
    path = files("adaptive_cards") / "schemas" / "schema-1.5.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft6Validator.check_schema(schema)
    return jsonschema.Draft6Validator(schema)


def assert_valid_card(card: dict) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in _card_validator().iter_errors(card)]
    assert not errors, "\n".join(errors[:10])
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["fallbackText"].strip()
    assert len(json.dumps(card, ensure_ascii=False).encode()) <= render.MAX_CARD_BYTES


def _markdown_texts(card: dict) -> list[str]:
    """Strings a card host reads as markdown: TextBlock texts and facts."""
    texts = []
    for node in _walk(card["body"]):
        if node.get("type") == "TextBlock":
            texts.append(node["text"])
        if node.get("type") == "FactSet":
            texts.extend(t for fact in node["facts"] for t in (fact["title"], fact["value"]))
    return texts


def _runs(card: dict) -> list[str]:
    return [node["text"] for node in _walk(card["body"]) if node.get("type") == "TextRun"]


_UNESCAPED_MARKDOWN = re.compile(r"(?<!\\)(?:\\\\)*[*_`\[\]<>~]")


def _unescape_card(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _code_blocks(message: dict) -> list[str]:
    return [obj["text"] for obj in _text_objects(message)
            if obj["type"] == "mrkdwn" and obj["text"].startswith("```")]


# ---------------------------------------------------------------------------- filters
def test_slack_mrkdwn_neutralises_mentions_links_and_formatting():
    assert slack_mrkdwn(NASTY) == "&lt;!channel&gt; ∗bold∗ &lt;http://x|y&gt;"
    assert slack_mrkdwn("a & b_c ~d~ `e`\nf") == "a &amp; bˍc ∼d∼ ˋeˋ f"
    assert slack_mrkdwn("&lt;") == "&amp;lt;"  # no double meaning


def test_slack_code_cannot_close_the_block_or_mention():
    block = slack_code(["```<!here>```", "x & y"])
    assert block == "```ˋˋˋ&lt;!here&gt;ˋˋˋ\nx &amp; y```"
    assert block.count("```") == 2


def test_card_text_escapes_markdown_and_list_starts():
    assert card_text("*bold* _it_ [x](http://y) <at>z</at>") == \
        r"\*bold\* \_it\_ \[x\](http://y) \<at\>z\</at\>"
    assert card_text("1. nov. 2026") == r"1\. nov. 2026"  # not a numbered list
    assert card_text("- 5") == r"\- 5"
    assert card_text("# x") == r"\# x"
    assert card_text("a\nb") == "a b"
    assert card_text("1) x") == r"1\) x" and card_text("38% (3/8)") == "38% (3/8)"
    assert card_text("&lt; R&D") == r"\&lt; R\&D"  # no entity decoding


@given(st.text())
def test_card_text_leaves_no_markup_and_reads_back_literally(text):
    escaped = card_text(text)
    assert not _UNESCAPED_MARKDOWN.search(escaped)
    assert not re.match(r"\s*(\d+[.)]|[-+=#>])", escaped)
    assert _unescape_card(escaped) == render.clean(text)


@given(st.text())
def test_slack_mrkdwn_never_leaves_a_control_sequence(text):
    escaped = slack_mrkdwn(text)
    assert not re.search(r"[<>*_~`\n]", escaped)
    assert not re.search(r"&(?!amp;|lt;|gt;)", escaped)


def test_tables_align_by_display_width_and_shorten_long_cells():
    lines = table([["Rep", "Total"], ["王伟", "14"], ["Ana", "3"]], "lr")
    assert lines == ["Rep   Total", "王伟     14", "Ana       3"]
    assert len({display_width(line) for line in lines}) == 1
    long = table([["x" * 100]], "l", max_cell=10)
    assert long == ["x" * 9 + "…"]
    assert table([["a\nb", "c\td"]]) == ["a b  c d"]


# ---------------------------------------------------------------------------- environment
def test_the_environment_is_a_factory_with_strict_undefined_and_no_autoescape():
    one, two = build_template_environment(), build_template_environment()
    assert one is not two
    assert one.undefined is jinja2.StrictUndefined
    assert one.autoescape is False
    assert {"tojson", "slack_mrkdwn", "slack_code", "card_text"} <= set(one.filters)
    assert not [name for name, value in vars(render).items()
                if isinstance(value, jinja2.Environment)]
    assert set(one.list_templates()) >= {"digest.slack.json.j2", "digest.teams.json.j2",
                                         "digest.txt.j2"}


def test_a_missing_attribute_fails_rendering_instead_of_leaving_a_hole():
    env = build_template_environment()
    env.loader = jinja2.DictLoader({"digest.txt.j2": "{{ digest.no_such_field }}"})
    with pytest.raises(jinja2.UndefinedError):
        render_text(sample_digest(), env=env)


def test_each_language_has_its_own_cached_environment_with_its_catalog():
    assert shared_environment("ro") is shared_environment("ro")
    assert shared_environment("ro") is not shared_environment("nb")
    template = "{{ _('Funnel') }}|{{ ngettext('%(num)s deal', '%(num)s deals', 20) }}"
    assert shared_environment("ro").from_string(template).render() == (
        "Pâlnia de vânzări|20 deals")  # not a catalog message: English, the plural still picked
    assert shared_environment("en").from_string(template).render() == "Funnel|20 deals"


def test_a_given_environment_is_used():
    env = build_template_environment()
    env.loader = jinja2.DictLoader({"digest.txt.j2": "{{ digest.cadence }}|{{ _('Funnel') }}"})
    assert render_text(sample_digest(), env=env) == "weekly|Funnel\n"
    nb = build_template_environment("nb")
    nb.loader = env.loader
    assert render_text(sample_digest("nb"), env=nb) == "weekly|Salgstrakt\n"


def test_rendering_does_not_import_matplotlib_or_chat_sdks():
    code = ("import sys; from reports.digest import render, chart; "
            "from tests.reports.digest.samples import sample_digest; d = sample_digest(); "
            "render.render_slack(d); render.render_teams_card(d); render.render_text(d); "
            "bad = {'matplotlib', 'slack_sdk', 'microsoft_agents'} & "
            "{m.split('.')[0] for m in sys.modules}; print(sorted(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------- Slack
@pytest.mark.parametrize("cadence", CADENCES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_slack_message_passes_slack_sdk_models_and_limits(language, cadence):
    digest = sample_digest(language, cadence)
    message = render_slack(digest)
    assert_valid_slack_message(message)
    assert message["text"] == digest.fallback
    assert message["blocks"][0] == {"type": "header", "text": {
        "type": "plain_text", "text": digest.title, "emoji": True}}
    everything = json.dumps(message, ensure_ascii=False)
    for metric in digest.headline:
        assert metric.label in everything and metric.change in everything
    for view in digest.quotas:
        assert view.title in everything and view.reps_at_quota in everything
        if view.warning:
            assert f":warning: *{slack_mrkdwn(view.warning)}*" in everything
    for churn in digest.churn:
        assert slack_mrkdwn(churn.customer_churn) in everything
    assert digest.funnel_summary in everything and digest.stalled_total in everything


def test_slack_sections_are_in_order():
    message = render_slack(sample_digest())
    headings = [obj["text"] for obj in _text_objects(message)
                if obj["type"] == "mrkdwn" and obj["text"].startswith("*")
                and obj["text"].endswith("*") and "\n" not in obj["text"]]
    assert headings[:2] == ["*Activity per rep*", "*Funnel*"]
    assert headings[2].startswith("*Quota — month to date")
    assert headings[3].startswith("*Quota — quarter to date")
    assert headings[4:] == ["*Churn*", "*Stalled deals*", "*Loss reasons*"]
    assert message["blocks"][-1]["elements"][0]["text"].startswith("kpibot")


def test_empty_fallbacks_are_never_sent():
    digest = replace(sample_digest(), fallback="")
    assert render_slack(digest)["text"] == digest.title
    assert render_teams_card(digest)["fallbackText"] == digest.title
    untitled = replace(digest, title="")
    assert render_slack(untitled)["text"].strip()
    assert render_teams_card(untitled)["fallbackText"].strip()


def test_a_huge_digest_is_cut_to_slack_limits_with_an_ellipsis():
    digest = huge_digest()
    message = render_slack(digest)
    assert_valid_slack_message(message)
    assert len(message["blocks"]) == 50
    assert message["blocks"][-1] == {"type": "context", "elements": [
        {"type": "plain_text", "text": "…", "emoji": True}]}
    assert message["text"].endswith("…") and len(message["text"]) == 3000
    assert message["blocks"][0]["text"]["text"] == "T" * 149 + "…"
    code = _code_blocks(message)
    assert code and all(len(c) <= 3000 and c.endswith("```") for c in code)


def test_huge_fields_and_contexts_are_split_not_dropped():
    digest = sample_digest()
    many = replace(digest, headline=digest.headline * 5, notes=tuple(f"n{i}" for i in range(23)),
                   churn=tuple(replace(c, title="x" * 5000) for c in digest.churn))
    message = render_slack(many)
    assert_valid_slack_message(message)
    headline = [b for b in message["blocks"] if b["type"] == "section" and "fields" in b
                and "text" not in b]
    assert [len(b["fields"]) for b in headline][:3] == [10, 10, 5]
    notes = [e["text"] for b in message["blocks"] if b["type"] == "context"
             for e in b["elements"] if e["text"].startswith("ⓘ n")]
    assert notes == [f"ⓘ n{i}" for i in range(23)]


def test_a_long_code_table_is_split_into_several_code_blocks():
    digest = huge_digest(reps=25, name_length=30)
    message = render_slack(replace(digest, quotas=(), stalled=(), loss_reasons=()))
    assert_valid_slack_message(message)
    activity = [c for c in _code_blocks(message) if "Calls" in c or "Rep 2" in c]
    assert activity and all(c.startswith("```") and c.endswith("```") for c in activity)


# ---------------------------------------------------------------------------- Teams
@pytest.mark.parametrize("cadence", CADENCES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_teams_card_validates_against_the_official_schema(language, cadence):
    digest = sample_digest(language, cadence)
    card = render_teams_card(digest)
    assert_valid_card(card)
    assert card["fallbackText"] == digest.fallback
    assert card["body"][0]["text"] == card_text(digest.title)
    footer = translator(language).gettext("kpibot · /kpi digest list · /kpi help")
    assert card["body"][-1]["text"] == card_text(footer)
    for text in _markdown_texts(card):
        assert not _UNESCAPED_MARKDOWN.search(text), text
    shown = " ".join(_unescape_card(t) for t in _markdown_texts(card)) + " ".join(_runs(card))
    for piece in (digest.period, digest.funnel_summary, digest.stalled_total,
                  *(m.label for m in digest.headline), *(v.title for v in digest.quotas),
                  *(v.reps_at_quota for v in digest.quotas), *(c.title for c in digest.churn),
                  *(s.stage for s in digest.funnel), *(r.rep for r in digest.activity)):
        assert piece in shown, piece


def test_a_huge_card_is_shortened_to_fit_one_teams_message():
    card = render_teams_card(huge_digest())
    assert_valid_card(card)
    assert card["body"][-1]["text"].startswith("kpibot")
    texts = [node.get("text", "") for node in _walk(card["body"])]
    assert any(t == "…" or t.startswith("… +") for t in texts)
    assert all(len(run) <= render.MAX_CARD_TEXT for run in _runs(card))


def test_a_card_a_little_too_big_loses_table_rows_not_sections():
    digest = huge_digest(reps=12, name_length=60)
    card = render_teams_card(replace(digest, quotas=digest.quotas[:2], notes=()))
    assert_valid_card(card)
    headings = [node["text"] for node in card["body"] if node.get("weight") == "Bolder"
                and node.get("type") == "TextBlock"]
    assert headings[-2:] == ["Stalled deals", "Loss reasons"]
    markers = [t for t in _runs(card) + [n.get("text", "") for n in _walk(card["body"])]
               if t.startswith("… +")]
    assert markers


# ---------------------------------------------------------------------------- text
@pytest.mark.parametrize("cadence", CADENCES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_text_has_every_section_with_aligned_tables(language, cadence):
    digest = sample_digest(language, cadence)
    text = render_text(digest)
    t = translator(language)
    labels = {key: t.gettext(english) for key, english in (
        ("headline", "Headline"), ("activity", "Activity per rep"), ("funnel", "Funnel"),
        ("churn", "Churn"), ("stalled", "Stalled deals"), ("loss_reasons", "Loss reasons"),
        ("footer", "kpibot · /kpi digest list · /kpi help"), ("stage", "Stage"))}
    assert text.startswith(digest.title + "\n")
    assert f"{digest.period} · {digest.compared_with}" in text
    for piece in (labels["headline"], labels["activity"], labels["funnel"], labels["churn"],
                  labels["stalled"], labels["loss_reasons"], digest.funnel_summary,
                  digest.stalled_total, *(v.title for v in digest.quotas),
                  *(m.value for m in digest.headline), labels["footer"]):
        assert piece in text, piece
    funnel = text.split(labels["funnel"] + "\n")[1].splitlines()[1:1 + 1 + len(digest.funnel)]
    widths = {display_width(line.rstrip()) for line in funnel if line.split()[-1][-1].isdigit()}
    assert funnel[0].split()[0] == labels["stage"].split()[0]
    assert len(widths) <= 2  # right-aligned numbers: same width (the last column may be empty)


def test_text_of_a_huge_digest_says_what_was_left_out():
    text = render_text(huge_digest(reps=45, name_length=80))
    assert "… +15" in text
    rows = [line for line in text.splitlines() if line.startswith("  Rep ")]
    assert rows and max(display_width(line) for line in rows) < 200  # long names shortened


# ---------------------------------------------------------------------------- hostile names
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_hostile_name_stays_literal_text_in_every_format(language):
    digest = nasty_digest(language)
    assert NASTY in {r.rep for r in digest.activity} and digest.stalled and digest.loss_reasons

    # Slack: only in plain_text or in escaped code blocks, never in a mrkdwn sentence.
    message = render_slack(digest)
    assert_valid_slack_message(message)
    escaped = NASTY.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    code = _code_blocks(message)
    assert sum(block.count(escaped) for block in code) >= 4
    assert NASTY in html.unescape(" ".join(code))
    for obj in _text_objects(message):
        if obj["type"] == "mrkdwn" and not obj["text"].startswith("```"):
            assert "channel" not in obj["text"] and "http://x" not in obj["text"]
    assert "<!channel>" not in json.dumps(
        [o["text"] for o in _text_objects(message) if o["type"] == "mrkdwn"])

    # Teams: as TextRuns (never markdown), and nowhere raw in markdown text.
    card = render_teams_card(digest)
    assert_valid_card(card)
    runs = _runs(card)
    assert sum(run == NASTY or run.startswith(NASTY + " (") for run in runs) >= 4
    for text in _markdown_texts(card):
        assert NASTY not in text and "*bold*" not in text and "<http" not in text

    # Text: verbatim.
    text = render_text(digest)
    assert text.count(NASTY) >= 4


def test_renders_reuse_one_template_environment(monkeypatch):
    """Templates are compiled once per process, not once per digest (issue: Monday fan-out)."""
    from reports.digest import render as render_module

    digest = sample_digest("en", "weekly")
    render_module.render_text(digest)  # the first render may build it
    built: list[int] = []
    monkeypatch.setattr(render_module, "build_template_environment",
                        lambda: built.append(1) or pytest.fail("a new environment was built"))
    for _ in range(3):
        render_module.render_slack(digest)
        render_module.render_teams_card(digest)
        render_module.render_text(digest)
    assert built == []
