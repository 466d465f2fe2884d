"""Service keys: parsing the configured list, normalizing both formats, and masking."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote, unquote

PREVIEW_LENGTH = 10
_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")
_BASE64_KEY = re.compile(r"[A-Za-z0-9+/]{86}[A-Za-z0-9+/=]{2}")
_WHITESPACE = re.compile(r"\s+")


def fingerprint_of(raw: str) -> str:
    """A stable, one-way name for a key, safe to store and show."""
    return hashlib.sha256(b"kto-keys/v1:" + raw.encode()).hexdigest()[:16]


def preview_of(raw: str) -> str:
    """The only part of a key ever shown: its first characters, then an ellipsis."""
    return raw[:PREVIEW_LENGTH] + "..."


def normalize_key(text: str) -> str:
    """Bring a pasted key to its raw form: no whitespace, percent-decoded once."""
    compact = _WHITESPACE.sub("", text)
    return unquote(compact) if "%" in compact else compact


def has_known_shape(raw: str) -> bool:
    """True for a 64-character hex key or an 88-character base64 key."""
    return bool(_HEX_KEY.fullmatch(raw) or _BASE64_KEY.fullmatch(raw))


class _Secret:
    """Holds a raw key: shows as `***`, and refuses to be pickled or copied out."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "***"

    def __reduce__(self) -> Any:
        raise TypeError("a service key cannot be pickled")


class ServiceKey:
    """One configured key; its repr and str show only `#index` and the preview.

    Not a dataclass: the raw key is no field, so `asdict`, `vars`, `repr` and `pickle` cannot
    bring it out. Only `reveal()` gives it, for the one place that builds the request URL.
    """

    __slots__ = ("_secret", "fingerprint", "index", "preview", "source")
    index: int
    fingerprint: str
    preview: str
    source: str

    def __init__(self, index: int, fingerprint: str, preview: str, source: str, raw: str) -> None:
        for name, value in (
            ("index", index),
            ("fingerprint", fingerprint),
            ("preview", preview),
            ("source", source),
            ("_secret", _Secret(raw)),
        ):
            object.__setattr__(self, name, value)

    @classmethod
    def from_raw(cls, raw: str, index: int, source: str) -> ServiceKey:
        """Build a key from its normalized raw value."""
        return cls(index, fingerprint_of(raw), preview_of(raw), source, raw)

    @property
    def label(self) -> str:
        """`#index preview`, the way a key is named to people."""
        return f"#{self.index} {self.preview}"

    def reveal(self) -> str:
        """The raw key, for the one place that builds the request URL."""
        secret: _Secret = object.__getattribute__(self, "_secret")
        return secret._value

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("ServiceKey is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServiceKey):
            return NotImplemented
        return (self.index, self.fingerprint, self.source) == (
            other.index,
            other.fingerprint,
            other.source,
        )

    def __hash__(self) -> int:
        return hash((self.index, self.fingerprint, self.source))

    def __copy__(self) -> ServiceKey:
        return self  # immutable: a copy is the key itself

    def __deepcopy__(self, memo: dict[int, Any]) -> ServiceKey:
        return self

    def __reduce__(self) -> Any:
        raise TypeError("a ServiceKey cannot be pickled: its raw value never leaves the process")

    def __repr__(self) -> str:
        return f"ServiceKey({self.label})"

    def __str__(self) -> str:
        return self.label


class KeyWarningKind(StrEnum):
    """What was odd about an entry of KTO_API_KEY."""

    DUPLICATE = "duplicate"  # the entry repeats an earlier key: used once
    ODD_SHAPE = "odd_shape"  # neither 64 hex nor 88 base64 characters: used anyway


@dataclass(frozen=True, slots=True)
class KeyWarning:
    """One odd entry: which entry, which key it is (index, preview), and its length."""

    kind: KeyWarningKind
    position: int
    index: int
    preview: str
    length: int


@dataclass(frozen=True, slots=True)
class ParsedKeys:
    """The distinct keys of a KTO_API_KEY value, and what was odd about it."""

    keys: tuple[ServiceKey, ...]
    warnings: tuple[KeyWarning, ...]


def parse_keys(value: str, source: str) -> ParsedKeys:
    """Split `key1,key2,...`: skip blanks, merge duplicates, warn on odd shapes."""
    keys: list[ServiceKey] = []
    seen: dict[str, ServiceKey] = {}
    warnings: list[KeyWarning] = []
    for position, entry in enumerate(_entries(value), start=1):
        raw = normalize_key(entry)
        if not raw:
            continue
        if raw in seen:
            first = seen[raw]
            warnings.append(
                KeyWarning(KeyWarningKind.DUPLICATE, position, first.index, first.preview, len(raw))
            )
            continue
        key = ServiceKey.from_raw(raw, len(keys), source)
        seen[raw] = key
        keys.append(key)
        if not has_known_shape(raw):
            warnings.append(
                KeyWarning(KeyWarningKind.ODD_SHAPE, position, key.index, key.preview, len(raw))
            )
    return ParsedKeys(tuple(keys), tuple(warnings))


def _entries(value: str) -> Iterable[str]:
    return value.split(",")


class Redactor:
    """Replaces any raw or percent-encoded form of known keys in text by their previews."""

    # A run of the characters a key, or its encoded forms, is made of: the only places to look.
    _CANDIDATE = re.compile(r"[A-Za-z0-9+/=%]{40,}")

    def __init__(self, keys: Iterable[ServiceKey]) -> None:
        self._previews = {key.reveal(): key.preview for key in keys}

    def __call__(self, text: str) -> str:
        """The text with keys masked and any `serviceKey=` value hidden."""
        if self._previews:
            text = self._CANDIDATE.sub(self._mask, text)
        return _SERVICE_KEY_PARAM.sub("serviceKey=***", text)

    def _mask(self, match: re.Match[str]) -> str:
        token = match.group(0)
        for candidate in (token, unquote(token), unquote(unquote(token))):
            if candidate in self._previews:
                return self._previews[candidate]
        for raw, preview in self._previews.items():
            if raw in candidate or quote(raw, safe="") in token:
                return preview
        return token


def redact(text: str, keys: Iterable[ServiceKey]) -> str:
    """Replace any raw or percent-encoded form of a key in `text` by its preview."""
    return Redactor(keys)(text)


_SERVICE_KEY_PARAM = re.compile(r"serviceKey=[^&\s'\"]+")
