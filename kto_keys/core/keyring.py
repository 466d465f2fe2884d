"""Where the pool's keys come from: the lines of a keys file, and the union of the key store, the
keys file and the environment, in that order of priority (pure: text in, keys out)."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TypeVar

from kto_keys.core.errors import SettingsError, SettingsProblem
from kto_keys.core.keys import KeyAttributes, ServiceKey, has_known_shape, normalize_key

T = TypeVar("T")
# The attributes a keys file line may carry after its key.
_VALUED = ("label", "expires", "limit")
STANDBY_WORD = "standby"
# No real key is used this many times a day per operation; beyond it a limit is a typo.
MAX_KEY_LIMIT = 10_000_000


class KeyLineProblem(StrEnum):
    """What is wrong with a line of a keys file (the line is named, never its key)."""

    NOT_A_KEY = "not_a_key"  # the first word is no key of a known shape
    BAD_EXPIRES = "bad_expires"  # expires= is no YYYY-MM-DD date
    BAD_LIMIT = "bad_limit"  # limit= is no whole number from 1
    EMPTY_LABEL = "empty_label"  # label= with nothing after it
    REPEATED = "repeated"  # the same attribute twice
    UNKNOWN_WORD = "unknown_word"  # a word that is none of the attributes (its place is given)
    BAD_QUOTES = "bad_quotes"  # a quote left open


def parse_keys_file(
    text: str, path: str, allow_odd: bool = False, origin: str | None = None
) -> tuple[ServiceKey, ...]:
    """The keys of a keys file, each with its attributes, in file order (a repeated key once).

    One key per line, then optional words: `label=NAME`, `expires=YYYY-MM-DD`, `limit=N`,
    `standby`. Blank lines and `#` comments are skipped. A bad line stops everything with a
    SettingsError naming the file, the line and what is wrong, never the key.
    """
    keys: list[ServiceKey] = []
    seen: set[str] = set()
    text = text.removeprefix("\ufeff")  # saved by Notepad
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            raise _bad(path, number, KeyLineProblem.BAD_QUOTES) from None
        if not words:
            continue
        raw = normalize_key(words[0])
        if not raw or (not allow_odd and not has_known_shape(raw)):
            raise _bad(path, number, KeyLineProblem.NOT_A_KEY)
        attributes = _attributes(words[1:], path, number)
        if raw in seen:
            continue
        seen.add(raw)
        keys.append(ServiceKey.from_raw(raw, len(keys), origin or path, attributes))
    return tuple(keys)


def _attributes(words: Sequence[str], path: str, number: int) -> KeyAttributes:
    values: dict[str, str] = {}
    standby = False
    for place, word in enumerate(words, start=2):
        name, equals, value = word.partition("=")
        if not equals and name == STANDBY_WORD and not standby:
            standby = True
            continue
        if not equals or name not in _VALUED:
            if name in _VALUED or name == STANDBY_WORD:
                raise _bad(path, number, KeyLineProblem.REPEATED, word=name)
            raise _bad(path, number, KeyLineProblem.UNKNOWN_WORD, place=place)
        if name in values:
            raise _bad(path, number, KeyLineProblem.REPEATED, word=name)
        values[name] = value
    return KeyAttributes(
        label=_label(values.get("label"), path, number),
        expires=_parsed(
            values.get("expires"), parse_expiry, KeyLineProblem.BAD_EXPIRES, path, number
        ),
        limit=_parsed(values.get("limit"), parse_limit, KeyLineProblem.BAD_LIMIT, path, number),
        standby=standby,
    )


def _label(value: str | None, path: str, number: int) -> str | None:
    if value is None:
        return None
    if not value.strip():
        raise _bad(path, number, KeyLineProblem.EMPTY_LABEL)
    return value.strip()


def _parsed(
    value: str | None,
    parse: Callable[[str], T | None],
    problem: KeyLineProblem,
    path: str,
    number: int,
) -> T | None:
    """An attribute's value read by `parse`; None when the line does not give it."""
    if value is None:
        return None
    parsed = parse(value)
    if parsed is None:
        raise _bad(path, number, problem)
    return parsed


def parse_expiry(text: str) -> date | None:
    """A YYYY-MM-DD date, or None when the text is none."""
    try:
        if len(text.strip()) != 10:
            return None
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def parse_limit(text: str) -> int | None:
    """A key's daily limit per operation: a whole number from 1, or None when the text is none."""
    stripped = text.strip()
    if not stripped.isdigit():
        return None
    number = int(stripped)
    return number if 1 <= number <= MAX_KEY_LIMIT else None


def _bad(path: str, line: int, problem: KeyLineProblem, **details: object) -> SettingsError:
    return SettingsError(
        SettingsProblem.KEYS_FILE_LINE, path=path, line=line, line_problem=problem, **details
    )


@dataclass(frozen=True, slots=True)
class RemovedKey:
    """A key removed in the key store that a keys file or the environment still holds: it stays
    out of the pool, and each run says so once, by its place in that source and its preview."""

    source: str
    position: int
    preview: str


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The pool's keys, each once, indexed from 0 in priority order, with the removed ones held."""

    keys: tuple[ServiceKey, ...]
    removed: tuple[RemovedKey, ...] = ()


def merge_sources(layers: Sequence[Sequence[ServiceKey]], removed: Collection[str] = ()) -> KeyRing:
    """The union of the sources, given highest priority first (the store, the keys file, the
    environment), deduplicated by fingerprint.

    A key takes its source from the first layer that holds it, each attribute from the first
    layer that gives it (the store's win over the file's), and its index from its place in the
    union. A key whose fingerprint is in `removed` stays out.
    """
    if len(layers) == 1 and not removed:
        only = layers[0]
        if all(key.index == index for index, key in enumerate(only)):
            return KeyRing(tuple(only))  # the common case: KTO_API_KEY alone, nothing to move
    first: dict[str, ServiceKey] = {}
    given: dict[str, list[KeyAttributes]] = {}
    gone: dict[str, RemovedKey] = {}
    for layer in layers:
        for key in layer:
            fingerprint = key.fingerprint
            if fingerprint in removed:
                gone.setdefault(fingerprint, RemovedKey(key.source, key.index, key.preview))
                continue
            first.setdefault(fingerprint, key)
            given.setdefault(fingerprint, []).append(key.attributes)
    keys = tuple(
        key.placed(index, key.source, _merged(given[key.fingerprint]))
        for index, key in enumerate(first.values())
    )
    return KeyRing(keys, tuple(gone.values()))


def _merged(attributes: Sequence[KeyAttributes]) -> KeyAttributes:
    """Each attribute from the first source that gives it; `standby` from the first source."""
    if len(attributes) == 1:
        return attributes[0]
    return KeyAttributes(
        label=next((a.label for a in attributes if a.label is not None), None),
        expires=next((a.expires for a in attributes if a.expires is not None), None),
        limit=next((a.limit for a in attributes if a.limit is not None), None),
        standby=attributes[0].standby,
    )
