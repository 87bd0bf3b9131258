"""The French catalogue is complete and compiled: no untranslated or fuzzy entry, each translation
keeps its message's placeholders, and the committed .mo holds exactly what the .po says (a fresh
clone runs without gettext's tools, so nothing compiles it at run time).

The .mo is compared by content, not by file times: a git checkout gives both files the time of the
checkout, in no particular order."""

import gettext
import re
from pathlib import Path

import polib
import pytest

LOCALE = Path(__file__).resolve().parents[2] / "locale"
CATALOGUES = sorted(LOCALE.glob("*/LC_MESSAGES/django.po"))
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@pytest.fixture(params=CATALOGUES, ids=lambda p: p.parts[-3])
def po(request) -> polib.POFile:
    return polib.pofile(str(request.param))


def test_there_is_a_french_catalogue():
    assert LOCALE / "fr" / "LC_MESSAGES" / "django.po" in CATALOGUES


def test_every_entry_is_translated_and_none_is_fuzzy(po):
    assert not po.metadata_is_fuzzy, "the header is marked fuzzy: msgfmt would ignore it"
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert untranslated == [], f"untranslated: {untranslated}"
    assert fuzzy == [], f"fuzzy: {fuzzy}"


def test_each_translation_keeps_its_placeholders(po):
    wrong = []
    for e in po.translated_entries():
        if e.msgid_plural:
            for n, text in e.msgstr_plural.items():
                source = e.msgid if n == 0 else e.msgid_plural
                if set(PLACEHOLDER.findall(text)) != set(PLACEHOLDER.findall(source)):
                    wrong.append(f"{e.msgid!r} [{n}]")
        elif set(PLACEHOLDER.findall(e.msgstr)) != set(PLACEHOLDER.findall(e.msgid)):
            wrong.append(repr(e.msgid))
    assert wrong == [], "placeholders differ in: " + ", ".join(wrong)


def test_the_committed_mo_is_the_po_compiled(po, tmp_path):
    compiled = tmp_path / "django.mo"
    po.save_as_mofile(str(compiled))
    committed = Path(po.fpath).with_suffix(".mo")
    assert committed.exists(), f"{committed} is missing: run `manage.py compilemessages` and commit it"
    with committed.open("rb") as ours, compiled.open("rb") as fresh:
        stale = messages(ours) != messages(fresh)
    assert not stale, f"{committed} is older than its .po: run `manage.py compilemessages` and commit the .mo"


def messages(mo) -> dict:
    """A compiled catalogue's translations, without its header (msgfmt leaves out the POT date)."""
    return {key: text for key, text in gettext.GNUTranslations(mo)._catalog.items() if key != ""}
