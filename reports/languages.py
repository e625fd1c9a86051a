"""The languages kpibot speaks: their codes, names and the words people use for them."""

from __future__ import annotations

LANGUAGES = ("en", "nb", "sv", "ro", "zh")
LANGUAGE_NAMES = {"en": "English", "nb": "Norwegian", "sv": "Swedish", "ro": "Romanian",
                  "zh": "Chinese"}
_ALIASES = {"no": "nb", "nn": "nb", "zh-cn": "zh", "zh-hans": "zh"}


def language_code(word: str) -> str | None:
    """The language `word` names (`nb`, `no`, `en-GB`, `zh_Hans`...), or None."""
    code = word.strip().lower().replace("_", "-")
    code = _ALIASES.get(code, code)
    primary = _ALIASES.get(code.split("-")[0], code.split("-")[0])
    for candidate in (code, primary):
        if candidate in LANGUAGES:
            return candidate
    return None
