"""The script catalog: complete translations, Slack's limits, overrides and fallbacks."""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from bot.messages.catalog import (
    SUPPORTED,
    VARIANTS,
    ScriptCatalog,
    ScriptsError,
    language_for,
    limit_for,
    placeholders,
    variant_for,
)

TRANSLATIONS = [lang for lang in SUPPORTED if lang != "en"]

# Keys other modules are coded against; renaming one silently would break a message.
REQUIRED = """
common.button_next common.button_done common.button_confirm common.button_edit
common.button_cancel common.button_save common.not_set
win.header win.intro win.questions win.why_it_matters win.button_log win.fallback
loss.header loss.intro loss.ask_mode loss.button_heard loss.button_helped loss.button_hugged
loss.button_manager loss.fallback
no_decision.header no_decision.intro no_decision.fallback
help.header help.intro help.line_deal help.line_help help.footer
errors.unknown_subcommand errors.deal_usage errors.deal_bad_outcome errors.generic
errors.dm_failed
deal.logged deal.outcome_won deal.outcome_lost deal.outcome_no_decision
""".split()

# Every /loop subcommand in the product brief has a help line (dashes become underscores).
SUBCOMMANDS = """help deal debrief concern reflect story tee-up screen-out prep pause resume
snooze settings report export forget-me""".split()


@pytest.fixture(scope="module")
def catalog() -> ScriptCatalog:
    return ScriptCatalog.load()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the shipped files ------------------------------------------------------------------


def test_required_keys_exist(catalog: ScriptCatalog) -> None:
    assert set(REQUIRED) - catalog.keys() == set()


def test_every_subcommand_has_a_help_line(catalog: ScriptCatalog) -> None:
    wanted = {f"help.line_{name.replace('-', '_')}" for name in SUBCOMMANDS}
    assert wanted - catalog.keys() == set()


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_translation_has_exactly_the_english_keys(catalog: ScriptCatalog, lang: str) -> None:
    assert catalog.missing(lang) == set()
    assert set(catalog.shipped(lang)) == catalog.keys()


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_translation_uses_the_same_placeholders(catalog: ScriptCatalog, lang: str) -> None:
    english = catalog.shipped("en")
    different = {
        key: (placeholders(english[key]), placeholders(text))
        for key, text in catalog.shipped(lang).items()
        if placeholders(text) != placeholders(english[key])
    }
    assert different == {}


@pytest.mark.parametrize("lang", [*SUPPORTED, *VARIANTS])
def test_every_text_fits_its_slack_limit(catalog: ScriptCatalog, lang: str) -> None:
    too_long = {
        key: len(text) for key, text in catalog.shipped(lang).items() if len(text) > limit_for(key)
    }
    assert too_long == {}


def test_limit_convention() -> None:
    assert limit_for("common.button_next") == 75
    assert limit_for("screenout.option_review_1m") == 75
    assert limit_for("log.modal_title") == 24
    assert limit_for("log.modal_submit") == 24
    assert limit_for("log.modal_close") == 24
    assert limit_for("win.header") == 150
    assert limit_for("manager.script_header") == 150
    assert limit_for("guess.placeholder_guess") == 150
    assert limit_for("log.label_gap") == 2000
    assert limit_for("win.intro") == 3000


def test_modals_are_complete(catalog: ScriptCatalog) -> None:
    # A modal needs all three pieces of chrome; one missing would fail only at open time.
    titles = {key.rsplit(".", 1)[0] for key in catalog.keys() if key.endswith(".modal_title")}
    assert titles, "expected some modals"
    for table in titles:
        assert {f"{table}.modal_submit", f"{table}.modal_close"} <= catalog.keys(), table


def test_modal_chrome_is_short_in_every_language(catalog: ScriptCatalog) -> None:
    for lang in SUPPORTED:
        for key, text in catalog.shipped(lang).items():
            if key.rsplit(".", 1)[-1] in ("modal_title", "modal_submit", "modal_close"):
                assert len(text) <= 24, (lang, key, text)


def test_headers_never_hold_mentions(catalog: ScriptCatalog) -> None:
    # Header blocks are plain text, so a "<@U123>" mention would show up raw.
    for key in catalog.keys():
        if limit_for(key) == 150 and not key.rsplit(".", 1)[-1].startswith("placeholder_"):
            assert not placeholders(catalog.shipped("en")[key]) & {"rep", "manager"}, key


def test_package_data_ships_the_files() -> None:
    pyproject = tomllib.loads(Path(__file__).parents[2].joinpath("pyproject.toml").read_text())
    assert "scripts/*.toml" in pyproject["tool"]["setuptools"]["package-data"]["bot.messages"]
    folder = resources.files("bot.messages").joinpath("scripts")
    for lang in SUPPORTED:
        assert folder.joinpath(f"{lang}.toml").is_file()


# --- languages and lookup -------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "lang"),
    [
        ("es-ES", "es"),
        ("es-419", "es"),
        ("es-LA", "es"),
        ("es", "es"),
        ("ES_mx", "es"),
        ("fr-CA", "fr"),
        ("fr-FR", "fr"),
        ("en-US", "en"),
        ("en-GB", "en"),
        ("pt-BR", "en"),
        ("de", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_language_for(locale: str | None, lang: str) -> None:
    assert language_for(locale) == lang


def test_text_takes_a_locale_or_a_language(catalog: ScriptCatalog) -> None:
    spanish = catalog.shipped("es")["common.button_next"]
    assert catalog.text("es-419", "common.button_next") == spanish
    assert catalog.text("es", "common.button_next") == spanish
    english = catalog.shipped("en")["common.button_next"]
    assert catalog.text("ja-JP", "common.button_next") == english
    assert catalog.text(None, "common.button_next") == english


def test_text_fills_placeholders(catalog: ScriptCatalog) -> None:
    text = catalog.text("en", "deal.logged", account="Acme", outcome="lost", rep="<@U1>")
    assert "Acme" in text and "lost" in text and "<@U1>" in text
    assert "{" not in text


def test_missing_placeholder_value_is_left_as_written(catalog: ScriptCatalog) -> None:
    text = catalog.text("fr", "deal.logged", account="Acme")
    assert "Acme" in text
    assert "{outcome}" in text and "{rep}" in text


def test_rendering_never_crashes_on_odd_templates() -> None:
    catalog = ScriptCatalog(
        {"en": {"n": "{count:,} deals, {missing:>5}", "odd": "half {open", "pos": "{} {0}"}}
    )
    assert catalog.text("en", "n", count=1200) == "1,200 deals, {missing:>5}"
    assert catalog.text("en", "n", count="many") == "many deals, {missing:>5}"
    assert catalog.text("en", "odd", open="x") == "half {open"
    assert catalog.text("en", "pos") == "{} {0}"


def test_unknown_key_is_a_programming_error(catalog: ScriptCatalog) -> None:
    with pytest.raises(KeyError, match="win.headr"):
        catalog.text("en", "win.headr")


def test_falls_back_to_english_when_a_translation_lacks_a_key() -> None:
    catalog = ScriptCatalog({"en": {"a.b": "hello", "a.c": "bye"}, "es": {"a.c": "adiós"}})
    assert catalog.text("es", "a.b") == "hello"
    assert catalog.text("es", "a.c") == "adiós"
    assert catalog.missing("es") == {"a.b"}


# --- regional Spanish, one word per language, every key in every language ---------------

# Keys whose text may read the same as the English one in a language: names, commands,
# symbols, and words the language borrows as they are.
SAME_AS_ENGLISH = {
    # "No"; "debrief" is the word the Spanish scripts use throughout.
    "es": {"manager.option_door_closed", "lessons.source_debrief"},
    "fr": {"manager.option_door_closed"},  # "Non"
}
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
CODE_SPAN = re.compile(r"`[^`]*`")


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_every_key_is_translated_not_left_in_english(catalog: ScriptCatalog, lang: str) -> None:
    english = catalog.shipped("en")
    same = {
        key
        for key, text in catalog.shipped(lang).items()
        if text.strip() == english[key].strip() and _has_words(text)
    }
    assert same - SAME_AS_ENGLISH[lang] == set()


def _has_words(text: str) -> bool:
    """Text with words to translate once the product's name, placeholders and commands
    are taken out ("Feedback Loop — {period}" has none)."""
    rest = CODE_SPAN.sub("", text).replace("Feedback Loop", "")
    rest = re.sub(r"\{[a-z_]+\}", "", rest)
    return len(re.findall(r"[^\W\d_]{2,}", rest)) > 0


@pytest.mark.parametrize("lang", [*SUPPORTED, *VARIANTS])
def test_no_script_writes_an_iso_date_outside_a_command(catalog: ScriptCatalog, lang: str) -> None:
    # Dates are placeholders Babel fills; an example of what to type may show one.
    found = {
        key: text
        for key, text in catalog.shipped(lang).items()
        if ISO_DATE.search(CODE_SPAN.sub("", text))
    }
    assert found == {}


def test_regional_file_only_rewords_lines_its_language_has(catalog: ScriptCatalog) -> None:
    assert catalog.variant_extras("es-419") == set()
    regional = catalog.shipped("es-419")
    assert regional, "es-419.toml ships lines"
    spain = catalog.shipped("es")
    for key, text in regional.items():
        assert placeholders(text) == placeholders(spain[key]), key
        assert text != spain[key], f"{key} is the same as in es.toml: drop it from es-419.toml"


@pytest.mark.parametrize(
    ("locale", "variant"),
    [
        ("es-LA", "es-419"),
        ("es-419", "es-419"),
        ("es_MX", "es-419"),
        ("es-AR", "es-419"),
        ("es-ES", None),
        ("es", None),
        ("fr-CA", None),
        ("en-US", None),
        (None, None),
    ],
)
def test_variant_for(locale: str | None, variant: str | None) -> None:
    assert variant_for(locale) == variant


def test_madrid_reads_spain_and_latin_america_reads_its_own_lines(catalog: ScriptCatalog) -> None:
    assert catalog.text("es-ES", "loss.button_manager") == "Que llame mi responsable"
    assert catalog.text("es-LA", "loss.button_manager") == "Que llame mi gerente"
    assert catalog.text("es-MX", "privacy.you_and", who="Ana") == ":lock: Lo verán tú y Ana."
    assert catalog.text("es-ES", "privacy.you_and", who="Ana") == ":lock: Lo veréis tú y Ana."
    # A line es-419.toml does not reword is es.toml's.
    assert catalog.text("es-LA", "loss.ask_mode") == catalog.text("es-ES", "loss.ask_mode")


# Words that must not come back: Latin-American wording in Spain's file, the deal words we
# did not choose, and the French calques the rollout reported.
BANNED = {
    "es": [
        r"\bgerentes?\b",
        r"retroalimentaci",
        r"\bnegocios?\b",
        r"\btratos?\b",
        r"\boperaci[oó]n(es)?\b",
        r"\bventa (ganada|perdida)",
        r"haz el bucle",
        r"\bDM\b",
        r"\bvendedor",
    ],
    "fr": [
        r"clos comme",
        r"\bclose le\b",
        r"\bopportunit",
        r"\btransaction",
        r"\bdeal\b(?!\s|`)",
        r"\bDM\b",
        r"\bfeedback\b",
    ],
}


@pytest.mark.parametrize("lang", ["es", "fr"])
def test_one_word_for_a_deal_and_no_wording_we_replaced(catalog: ScriptCatalog, lang: str) -> None:
    found = {
        key: pattern
        for key, text in catalog.shipped(lang).items()
        for pattern in BANNED[lang]
        if re.search(pattern, CODE_SPAN.sub("", text).replace("Feedback Loop", ""), re.I)
    }
    assert found == {}
    deal_word = {"es": "oportunidad", "fr": "affaire"}[lang]
    assert (
        deal_word
        in catalog.text(lang, "home.recent_header").lower()
        + catalog.text(lang, "home.team_line", rep="r", account="a", outcome="o", date="d").lower()
    )


# --- overrides --------------------------------------------------------------------------


def test_override_changes_one_line_and_the_rest_stays_shipped(tmp_path: Path) -> None:
    shipped = ScriptCatalog.load()
    write(tmp_path, "es.toml", '[win]\nheader = "¡{account} es nuestro!"\n')
    catalog = ScriptCatalog.load(tmp_path)

    assert catalog.text("es-MX", "win.header", account="Acme") == "¡Acme es nuestro!"
    # Other Spanish keys, and the same key in other languages, are untouched.
    assert catalog.text("es", "win.intro") == shipped.text("es", "win.intro")
    assert catalog.text("fr", "win.header") == shipped.text("fr", "win.header")
    assert catalog.text("en", "win.header") == shipped.text("en", "win.header")
    assert catalog.keys() == shipped.keys()


def test_english_override_reaches_unsupported_locales(tmp_path: Path) -> None:
    write(tmp_path, "en.toml", 'common.button_next = "Onward"\n')
    catalog = ScriptCatalog.load(tmp_path)
    assert catalog.text("de-DE", "common.button_next") == "Onward"
    assert catalog.text("es", "common.button_next") != "Onward"


def test_override_may_use_fewer_placeholders(tmp_path: Path) -> None:
    write(tmp_path, "en.toml", '[deal]\nlogged = "Logged {account}."\n')
    catalog = ScriptCatalog.load(tmp_path)
    assert catalog.text("en", "deal.logged", account="A", outcome="won", rep="r") == "Logged A."


def test_malformed_override_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "es.toml", '[win]\nheader = "ok"\nintro = "no closing quote\n')
    with pytest.raises(ScriptsError, match=r"es\.toml line 3: ") as info:
        ScriptCatalog.load(tmp_path)
    assert "(at line" not in str(info.value)


def test_malformed_at_end_of_file_still_names_a_line(tmp_path: Path) -> None:
    write(tmp_path, "fr.toml", '[win]\nheader = """never closed\n\n')
    with pytest.raises(ScriptsError, match=r"fr\.toml line \d+: "):
        ScriptCatalog.load(tmp_path)


def test_unknown_key_in_override_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "fr.toml", '[win]\nheadr = "Gagné !"\n')
    with pytest.raises(ScriptsError, match=r"fr\.toml: unknown key 'win\.headr'"):
        ScriptCatalog.load(tmp_path)


def test_non_string_override_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "en.toml", "[win]\nheader = 42\n")
    with pytest.raises(ScriptsError, match=r"en\.toml: key 'win\.header' must be a string"):
        ScriptCatalog.load(tmp_path)


def test_table_where_a_string_belongs_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "en.toml", '[win.header]\ntext = "x"\n')
    with pytest.raises(ScriptsError, match=r"unknown key 'win\.header\.text'"):
        ScriptCatalog.load(tmp_path)


def test_unknown_placeholder_in_override_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "en.toml", '[win]\nheader = "You won {acount}!"\n')
    with pytest.raises(ScriptsError, match=r"'win\.header' uses \{acount\}"):
        ScriptCatalog.load(tmp_path)


def test_unbalanced_braces_in_override_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "en.toml", '[win]\nheader = "You won {account!"\n')
    with pytest.raises(ScriptsError, match=r"'win\.header'"):
        ScriptCatalog.load(tmp_path)


def test_override_longer_than_slack_allows_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "en.toml", f'[log]\nmodal_title = "{"x" * 25}"\n')
    with pytest.raises(ScriptsError, match=r"'log\.modal_title' is 25 characters; Slack allows 24"):
        ScriptCatalog.load(tmp_path)


def test_empty_override_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "en.toml", 'common.button_next = "  "\n')
    with pytest.raises(ScriptsError, match=r"'common\.button_next' is empty"):
        ScriptCatalog.load(tmp_path)


def test_misnamed_override_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "es-ES.toml", 'common.button_next = "Sigue"\n')
    with pytest.raises(ScriptsError, match=r"es-ES\.toml: unexpected file name"):
        ScriptCatalog.load(tmp_path)


def test_latin_american_lines_can_be_overridden_on_their_own(tmp_path: Path) -> None:
    write(tmp_path, "es-419.toml", '[loss]\nbutton_manager = "Que llame mi jefe"\n')
    catalog = ScriptCatalog.load(tmp_path)
    assert catalog.text("es-LA", "loss.button_manager") == "Que llame mi jefe"
    assert catalog.text("es-ES", "loss.button_manager") == "Que llame mi responsable"
    # An admin's es.toml speaks for all Spanish, over the shipped Latin-American line.
    write(tmp_path, "es.toml", '[manager]\nyour_manager = "tu jefa"\n')
    catalog = ScriptCatalog.load(tmp_path)
    assert catalog.text("es-MX", "manager.your_manager") == "tu jefa"


def test_other_files_in_the_override_folder_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "README.md", "notes for the team\n")
    assert ScriptCatalog.load(tmp_path).keys() == ScriptCatalog.load().keys()


def test_missing_override_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScriptsError, match="does not exist"):
        ScriptCatalog.load(tmp_path / "nowhere")
