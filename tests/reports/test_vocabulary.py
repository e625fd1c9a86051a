"""What a record may carry and which languages exist: one rule read by chat, CSV and the API."""

from __future__ import annotations

import pytest

from reports.events import KINDS, OPTION_KINDS, option_problem
from reports.languages import LANGUAGE_NAMES, LANGUAGES, language_code


def test_option_problem_names_the_kinds_an_option_goes_with():
    assert option_problem(KINDS["deal-lost"], "reason") is None
    assert option_problem(KINDS["deal-lost"], "competitor") is None
    assert option_problem(KINDS["lead"], "source") is None
    assert option_problem(KINDS["deal-won"], "note") is None  # any kind takes a note
    assert option_problem(KINDS["call"], "reason") == \
        "call takes no reason (it goes with deal-lost or churned)"
    for option, kinds in OPTION_KINDS.items():
        for kind in KINDS.values():
            assert (option_problem(kind, option) is None) == (kind.name in kinds)


@pytest.mark.parametrize(("word", "code"), [
    ("nb", "nb"), ("no", "nb"), ("NN", "nb"), ("en-GB", "en"), ("zh_Hans", "zh"),
    ("zh-CN", "zh"), (" sv ", "sv"), ("ro-RO", "ro"), ("de", None), ("", None), ("english", None),
])
def test_language_code_reads_the_words_people_use(word, code):
    assert language_code(word) == code


def test_every_language_has_a_name():
    assert set(LANGUAGE_NAMES) == set(LANGUAGES)
