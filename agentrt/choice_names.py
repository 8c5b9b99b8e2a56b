"""What people call the values of a choice that are standard codes: "German" for the language
code "de" (ISO 639), "euros" for the currency code "EUR" (ISO 4217), "Japan" for the country
code "JP" (ISO 3166).

Why: tools take codes (`target_language: Literal["en", "de", ...]`), people say names ("put this
into German"), and a 135M model does not know that German is "de": asked to choose, it wrote "en".
The English names come from the Unicode CLDR's data, through Babel, for every code of these
standards, so no table of ours goes stale or misses a code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping


def _currencies() -> Mapping[str, tuple[str, ...]]:
    from babel import Locale
    from babel.numbers import get_currency_name

    english = Locale("en")
    return {code: (name, get_currency_name(code, count=2, locale=english)) for code, name in english.currencies.items()}


def _languages() -> Mapping[str, tuple[str, ...]]:
    from babel import Locale

    return {code: (name,) for code, name in Locale("en").languages.items()}


def _countries() -> Mapping[str, tuple[str, ...]]:
    from babel import Locale

    return {code: (name,) for code, name in Locale("en").territories.items() if code.isalpha()}


# each standard with how a code of it is spelled in a tool's choices ("pt-BR" is Babel's "pt_BR")
_STANDARDS: list[tuple[Callable[[], Mapping[str, tuple[str, ...]]], Callable[[str], str]]] = [
    (_currencies, str.upper),
    (_languages, lambda code: code.replace("-", "_")),
    (_countries, str.upper),
]


@functools.cache
def _table(index: int) -> Mapping[str, tuple[str, ...]]:
    return _STANDARDS[index][0]()


@functools.lru_cache(maxsize=256)
def standard_names(choices: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The English names of each of `choices`, when most of them (and at least two) are codes of
    one standard, as in a list of currencies or languages; {} otherwise, so that a choice such as
    ["on", "off"] is not read as languages ("on" is no language, but "no" is Norwegian)."""
    for index, (_, spelled) in enumerate(_STANDARDS):
        table = _table(index)
        known = {choice: table[spelled(choice)] for choice in choices if spelled(choice) in table}
        if len(known) >= 2 and 2 * len(known) >= len(choices):
            return known
    return {}
