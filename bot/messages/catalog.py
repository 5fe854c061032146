"""The script catalog: every word the bot says, in English, Spanish and French.

The words live in TOML data files shipped in ``bot/messages/scripts/`` so that an admin can
override any line without touching code. Keys are dotted paths into the nested tables
(``[debrief.opener]`` + ``line1 = "..."`` is ``debrief.opener.line1``).

Key naming conventions (the last segment of a key tells which Slack element it feeds,
so the loader and the tests can enforce Slack's length limits):

* ``button_*``                                  button label, at most 75 characters
* ``option_*``                                  select / radio / checkbox option, at most 75
* ``modal_title``, ``modal_submit``, ``modal_close``  modal chrome, at most 24
* ``header`` or ``*_header``                     header block (plain text), at most 150
* ``placeholder_*``                             input placeholder, at most 150
* ``label_*``, ``hint_*``                       input label / hint, at most 2000
* anything else                                 section text (mrkdwn), at most 3000
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = [
    "SUPPORTED",
    "VARIANTS",
    "ScriptCatalog",
    "ScriptsError",
    "language_for",
    "limit_for",
    "placeholders",
    "variant_for",
]

SUPPORTED: tuple[str, ...] = ("en", "es", "fr")
_DEFAULT = "en"
# Regional wording kept apart from its language's file: `scripts/es-419.toml` holds only the
# lines Latin-American Spanish words differently from Spain's (es.toml); every other line
# falls back to es.toml. Slack sends "es-LA" for it; a country locale ("es-MX") may come
# from elsewhere.
VARIANTS: dict[str, str] = {"es-419": "es"}
_LATIN_AMERICA = frozenset(
    "419 LA MX AR BO CL CO CR CU DO EC GT HN NI PA PE PR PY SV US UY VE".split()
)

# Slack's documented maximums per Block Kit element; see the module docstring for
# how a key's last segment maps to one of them.
_LIMITS_BY_NAME: dict[str, int] = {
    "modal_title": 24,
    "modal_submit": 24,
    "modal_close": 24,
    "header": 150,
}
_LIMITS_BY_PREFIX: tuple[tuple[str, int], ...] = (
    ("button_", 75),
    ("option_", 75),
    ("placeholder_", 150),
    ("label_", 2000),
    ("hint_", 2000),
)
_SECTION_LIMIT = 3000

_FORMATTER = string.Formatter()
# tomllib (3.11-3.13) only puts the position in the message text, so we parse it back out.
_TOML_POSITION = re.compile(r"^(?P<msg>.*?)\s*\(at line (?P<line>\d+), column \d+\)$", re.S)
_TOML_AT_END = re.compile(r"^(?P<msg>.*?)\s*\(at end of document\)$", re.S)


class ScriptsError(Exception):
    """A script file is unreadable or holds something the bot cannot use.

    The message always names the file (and the line or key) so an admin editing an
    override can fix it without reading code.
    """


def language_for(locale: str | None) -> str:
    """Map a Slack locale ("es-ES", "es-419", "fr-CA", "en-US") to a supported language.

    Anything we have no scripts for falls back to English rather than failing, because
    a nudge in English is better than no nudge.
    """
    if not locale:
        return _DEFAULT
    base = locale.strip().replace("_", "-").split("-", 1)[0].lower()
    return base if base in SUPPORTED else _DEFAULT


def variant_for(locale: str | None) -> str | None:
    """The regional variant a locale reads ("es-LA", "es-419", "es-MX" -> "es-419"), or None
    when the language's own file is meant ("es-ES", "es", "fr-CA")."""
    parts = (locale or "").strip().replace("_", "-").split("-")
    if len(parts) >= 2 and parts[0].lower() == "es" and parts[1].upper() in _LATIN_AMERICA:
        return "es-419"
    return None


def limit_for(key: str) -> int:
    """The Slack length limit for the element a key feeds (see the naming conventions)."""
    last = key.rsplit(".", 1)[-1]
    if last in _LIMITS_BY_NAME:
        return _LIMITS_BY_NAME[last]
    if last.endswith("_header"):
        return _LIMITS_BY_NAME["header"]
    for prefix, limit in _LIMITS_BY_PREFIX:
        if last.startswith(prefix):
            return limit
    return _SECTION_LIMIT


def placeholders(template: str) -> set[str]:
    """Names of the ``{placeholders}`` in a template (escaped ``{{`` braces excluded)."""
    return {field for _, field, _, _ in _FORMATTER.parse(template) if field is not None}


def _render(template: str, values: Mapping[str, Any]) -> str:
    """Fill placeholders we have values for and leave the others exactly as written.

    A missing value must never crash a handler mid-conversation with a rep; showing
    "{account}" is an obvious, harmless bug, whereas a KeyError loses the message.
    """
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError:
        # Unbalanced braces (only possible in a hand-edited file): show it as written.
        return template
    out: list[str] = []
    for literal, field, spec, conversion in parsed:
        out.append(literal)
        if field is None:
            continue
        if field in values:
            value = values[field]
            try:
                if conversion:
                    value = _FORMATTER.convert_field(value, conversion)
                out.append(format(value, spec or ""))
            except (TypeError, ValueError):
                # A format spec that doesn't suit the value: the plain value still reads fine.
                out.append(str(value))
        else:
            out.append(
                "{"
                + field
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
    return "".join(out)


def _parse(text: str, label: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raw = str(exc)
        line = getattr(exc, "lineno", None)  # present from Python 3.14 on
        msg = getattr(exc, "msg", None) or raw
        if line is None:
            if m := _TOML_POSITION.match(raw):
                line, msg = int(m["line"]), m["msg"]
            elif m := _TOML_AT_END.match(raw):
                line, msg = text.count("\n") + 1, m["msg"]
        where = f" line {line}" if line is not None else ""
        raise ScriptsError(f"{label}{where}: {msg}") from exc


def _flatten(table: Mapping[str, Any], label: str, prefix: str = "") -> Iterator[tuple[str, str]]:
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            yield from _flatten(value, label, f"{key}.")
        elif isinstance(value, str):
            yield key, value
        else:
            # Strings only, so that every entry can be overridden one line at a time.
            raise ScriptsError(f"{label}: key '{key}' must be a string, not {type(value).__name__}")


def _load_text(text: str, label: str) -> dict[str, str]:
    templates = dict(_flatten(_parse(text, label), label))
    for key, template in templates.items():
        if not template.strip():
            raise ScriptsError(f"{label}: key '{key}' is empty (Slack rejects empty text)")
        try:
            placeholders(template)
        except ValueError as exc:
            raise ScriptsError(f"{label}: key '{key}' has unbalanced braces: {exc}") from exc
    return templates


def _read_shipped(lang: str) -> dict[str, str]:
    label = f"scripts/{lang}.toml"
    try:
        data = resources.files("bot.messages").joinpath("scripts", f"{lang}.toml").read_bytes()
    except FileNotFoundError as exc:
        raise ScriptsError(f"{label}: missing from the installed package") from exc
    return _load_text(_decode(data, label), label)


def _decode(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScriptsError(f"{label}: not UTF-8 text ({exc.reason})") from exc


class ScriptCatalog:
    """Shipped scripts plus an admin's optional overrides, looked up by language."""

    def __init__(
        self,
        shipped: Mapping[str, Mapping[str, str]],
        overrides: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self._shipped = {lang: dict(shipped.get(lang, {})) for lang in (*SUPPORTED, *VARIANTS)}
        self._overrides = {
            lang: dict((overrides or {}).get(lang, {})) for lang in (*SUPPORTED, *VARIANTS)
        }

    @classmethod
    def load(cls, overrides_dir: Path | None = None) -> ScriptCatalog:
        """Read the shipped files, then ``en.toml``/``es.toml``/``fr.toml`` (and ``es-419.toml``
        for Latin-American lines) from overrides_dir.

        Override files may hold any subset of keys. Anything an admin could have meant
        differently (an unknown key, an unknown placeholder, a stray ``de.toml``, text
        longer than Slack accepts) is an error at start-up rather than a silent no-op.
        """
        shipped = {lang: _read_shipped(lang) for lang in (*SUPPORTED, *VARIANTS)}
        overrides: dict[str, dict[str, str]] = {}
        if overrides_dir is not None:
            overrides = _read_overrides(Path(overrides_dir), shipped[_DEFAULT])
        return cls(shipped, overrides)

    def text(self, lang_or_locale: str | None, key: str, **values: Any) -> str:
        """The script for key in the user's language, with placeholders filled in.

        Lookup order: override[lang] → shipped[lang] → shipped["en"]. An unknown key is a
        programming error and raises KeyError.
        """
        return _render(self.template(lang_or_locale, key), values)

    def template(self, lang_or_locale: str | None, key: str) -> str:
        """The unformatted text text() would use, after the same fallbacks."""
        lang = language_for(lang_or_locale)
        variant = variant_for(lang_or_locale)
        regional = self._shipped[variant] if variant else {}
        regional_override = self._overrides[variant] if variant else {}
        for source in (
            regional_override,
            self._overrides[lang],
            regional,
            self._shipped[lang],
            self._shipped[_DEFAULT],
        ):
            if key in source:
                return source[key]
        raise KeyError(f"no script with key {key!r}")

    def keys(self) -> set[str]:
        """All keys of the shipped English scripts (the reference set)."""
        return set(self._shipped[_DEFAULT])

    def variant_extras(self, variant: str) -> set[str]:
        """Keys a regional file holds that its language's file does not (a typo there would
        otherwise never be shown)."""
        return set(self._shipped.get(variant, {})) - set(self._shipped[VARIANTS[variant]])

    def missing(self, lang: str) -> set[str]:
        """Shipped English keys that the shipped scripts for lang do not translate."""
        return self.keys() - set(self._shipped.get(lang, {}))

    def shipped(self, lang: str) -> Mapping[str, str]:
        """Read-only view of the shipped templates for one language (for checks and tests)."""
        return MappingProxyType(self._shipped.get(lang, {}))


def _read_overrides(folder: Path, reference: Mapping[str, str]) -> dict[str, dict[str, str]]:
    if not folder.is_dir():
        raise ScriptsError(f"{folder}: the script overrides folder does not exist")
    expected = ", ".join(f"{lang}.toml" for lang in (*SUPPORTED, *VARIANTS))
    overrides: dict[str, dict[str, str]] = {}
    for path in sorted(folder.glob("*.toml")):
        lang = path.stem
        if lang not in SUPPORTED and lang not in VARIANTS:
            # A misnamed file ("english.toml", "es-ES.toml") would otherwise be ignored.
            raise ScriptsError(f"{path}: unexpected file name; override files are {expected}")
        label = str(path)
        templates = _load_text(_decode(path.read_bytes(), label), label)
        for key, template in templates.items():
            _check_override(label, key, template, reference)
        overrides[lang] = templates
    return overrides


def _check_override(label: str, key: str, template: str, reference: Mapping[str, str]) -> None:
    if key not in reference:
        raise ScriptsError(f"{label}: unknown key '{key}' (check the spelling against en.toml)")
    allowed = placeholders(reference[key])
    unknown = placeholders(template) - allowed
    if unknown:
        names = ", ".join(f"{{{name}}}" for name in sorted(unknown))
        offer = ", ".join(f"{{{name}}}" for name in sorted(allowed)) or "none"
        raise ScriptsError(f"{label}: key '{key}' uses {names}; available here: {offer}")
    limit = limit_for(key)
    if len(template) > limit:
        raise ScriptsError(
            f"{label}: key '{key}' is {len(template)} characters; Slack allows {limit} here"
        )
