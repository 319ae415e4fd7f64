"""Both catalogs hold every message the code marks, each translated, with the same placeholders.

The messages are extracted from the code as `scripts/update_messages.sh` does (babel.cfg), so a
text marked for translation and left out of a catalog, or left empty or fuzzy there, fails here
instead of reaching a reader in the wrong language.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from omie_pipeline import i18n

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDERS = re.compile(r"\{[a-z_]*\}|<DEAL_ID>|\$\{?[a-z]+\}?|`[^`]*omie-pipeline[^`]*`")
# `_("...")` inside an f-string's braces is invisible to the extractor: the reader would get English.
MARKED_IN_FSTRING = re.compile(r"""\{\s*(?:_|ngettext)\(\s*['"]""")


def extracted_messages() -> dict[str | tuple[str, ...], list[str]]:
    """Every message the code marks (`_`, `ngettext`, `N_`), with where it is marked."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: dict[str | tuple[str, ...], list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(ROOT, method_map, options_map):
        found.setdefault(message, []).append(f"{filename}:{lineno}")
    return found


def catalog(language: str) -> Catalog:
    with i18n.catalog_path(language).open("rb") as source:
        return read_po(source, locale=i18n.locale_of(language))


def catalog_problems(messages: dict, translated: Catalog) -> list[str]:
    """What keeps `translated` from covering `messages`: missing, empty, fuzzy, unused, placeholders changed."""
    problems = []
    for message_id, places in messages.items():
        entry = translated.get(message_id)
        where = ", ".join(places)
        if entry is None:
            problems.append(f"missing: {message_id!r} ({where})")
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if not all(strings):
            problems.append(f"empty: {message_id!r} ({where})")
        if entry.fuzzy:
            problems.append(f"fuzzy: {message_id!r} ({where})")
        sources = message_id if isinstance(message_id, tuple) else (message_id,)
        expected = sorted(PLACEHOLDERS.findall(sources[-1]))
        for string in strings:
            if string and sorted(PLACEHOLDERS.findall(string)) != expected:
                problems.append(f"placeholders differ: {message_id!r} -> {string!r}")
    problems += [f"unused: {entry.id!r}" for entry in translated if entry.id and entry.id not in messages]
    return problems


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_marked_message_is_translated_in_both_catalogs(language: str) -> None:
    messages = extracted_messages()
    assert len(messages) > 150  # alerts, causes and the CLI's messages are marked
    assert catalog_problems(messages, catalog(language)) == []


def test_a_missing_an_empty_a_fuzzy_and_a_changed_placeholder_entry_are_each_caught() -> None:
    messages = {"Deal": ["a.py:1"], "Account {account}": ["a.py:2"], "Cause": ["a.py:3"], "Fix: {fix}.": ["a.py:4"]}
    translated = Catalog(locale="pt_BR")
    translated.add("Account {account}", "")
    translated.add("Cause", "Causa", flags=["fuzzy"])
    translated.add("Fix: {fix}.", "Correção: {correcao}.")
    translated.add("Gone", "Sumiu")
    assert catalog_problems(messages, translated) == [
        "missing: 'Deal' (a.py:1)",
        "empty: 'Account {account}' (a.py:2)",
        "fuzzy: 'Cause' (a.py:3)",
        "placeholders differ: 'Fix: {fix}.' -> 'Correção: {correcao}.'",
        "unused: 'Gone'",
    ]


def test_no_message_is_marked_inside_an_f_string() -> None:
    marked = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "omie_pipeline").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if MARKED_IN_FSTRING.search(line)
    ]
    assert marked == []


def test_the_catalogs_are_read_at_run_time_and_speak_each_language() -> None:
    with i18n.using_language("pt-BR"):
        assert i18n._("Deal") == "Negócio"
        assert i18n.ngettext("{count} account from {where}", "{count} accounts from {where}", 2) == (
            "{count} contas de {where}"
        )
    with i18n.using_language("en"):
        assert i18n._("Deal") == "Deal"
    assert i18n.current_language() == "en"  # the block's language ends with the block
