"""Service keys: parsing the configured list, normalizing both formats, and masking."""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any
from urllib.parse import quote, unquote

from kto_keys.core.errors import SettingsError, SettingsProblem

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


@dataclass(frozen=True, slots=True)
class KeyAttributes:
    """What a keys file or the key store says of a key besides the key itself.

    `limit` is the key's own daily calls per operation (None: KTO_API_DAILY_LIMIT); a `standby`
    key waits in reserve until an active key dies or expires.
    """

    label: str | None = None
    expires: date | None = None
    limit: int | None = None
    standby: bool = False


NO_ATTRIBUTES = KeyAttributes()

# ServiceKey refuses attribute writes; its constructor writes past that, once per field.
_set = object.__setattr__


class ServiceKey:
    """One configured key; its repr and str show only `#index` and the preview.

    Not a dataclass: the raw key is no field, so `asdict`, `vars`, `repr` and `pickle` cannot
    bring it out. Only `reveal()` gives it, for the one place that builds the request URL.
    """

    __slots__ = ("_secret", "attributes", "fingerprint", "index", "preview", "source")
    index: int
    fingerprint: str
    preview: str
    source: str
    attributes: KeyAttributes

    def __init__(
        self,
        index: int,
        fingerprint: str,
        preview: str,
        source: str,
        raw: str,
        attributes: KeyAttributes = NO_ATTRIBUTES,
    ) -> None:
        _set(self, "index", index)
        _set(self, "fingerprint", fingerprint)
        _set(self, "preview", preview)
        _set(self, "source", source)
        _set(self, "attributes", attributes)
        _set(self, "_secret", _Secret(raw))

    @classmethod
    def from_raw(
        cls, raw: str, index: int, source: str, attributes: KeyAttributes = NO_ATTRIBUTES
    ) -> ServiceKey:
        """Build a key from its normalized raw value."""
        return cls(index, fingerprint_of(raw), preview_of(raw), source, raw, attributes)

    def placed(self, index: int, source: str, attributes: KeyAttributes) -> ServiceKey:
        """The same key at another place in the pool, from another source."""
        return ServiceKey(index, self.fingerprint, self.preview, source, self.reveal(), attributes)

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


def parse_keys(value: str, source: str, allow_odd: bool = False) -> ParsedKeys:
    """Split a KTO_API_KEY value into distinct keys: skip blanks, merge duplicates.

    Entries are separated by commas, semicolons, spaces or line breaks, and may be quoted; a key
    broken over lines by a mail or a terminal is put back together when its pieces make one. An
    entry that cannot be a key is refused (SettingsError naming its position), unless
    `allow_odd`, when it is used with a warning.
    """
    keys: list[ServiceKey] = []
    seen: dict[str, ServiceKey] = {}
    warnings: list[KeyWarning] = []
    for position, raw, known in _entries(value):
        if raw in seen:
            first = seen[raw]
            warnings.append(
                KeyWarning(KeyWarningKind.DUPLICATE, position, first.index, first.preview, len(raw))
            )
            continue
        odd = not known
        if odd and not allow_odd:
            raise SettingsError(SettingsProblem.ODD_KEY, position=position, length=len(raw))
        key = ServiceKey.from_raw(raw, len(keys), source)
        seen[raw] = key
        keys.append(key)
        if odd:
            warnings.append(
                KeyWarning(KeyWarningKind.ODD_SHAPE, position, key.index, key.preview, len(raw))
            )
    return ParsedKeys(tuple(keys), tuple(warnings))


_QUOTES = "\"'`"


def _entries(value: str) -> Iterator[tuple[int, str, bool]]:
    """(position, raw key, whether it has a known shape) for every entry; pieces of one wrapped
    key are joined back."""
    # Split at whitespace already: only a percent-escaped token needs normalizing. Commas and
    # semicolons become spaces and str.split() takes the runs of whitespace (the same characters
    # as `\s`): a list of 10,000 keys splits in a sixth of the time a pattern takes.
    words = value.replace(",", " ").replace(";", " ").split()
    stripped = [token.strip(_QUOTES) for token in words]
    tokens = [normalize_key(token) if "%" in token else token for token in stripped]
    tokens = [token for token in tokens if token]
    position = index = 0
    while index < len(tokens):
        position += 1
        token = tokens[index]
        known = has_known_shape(token)
        if not known:
            for width in (2, 3, 4):
                joined = "".join(tokens[index : index + width])
                if has_known_shape(joined):
                    token, index, known = joined, index + width - 1, True
                    break
        yield position, token, known
        index += 1


# A run of this many characters of a key is masked wherever it appears, in whatever form.
MIN_FRAGMENT = 16
# The 8-character pieces of every key that start at a multiple of 8 are in the Redactor's table,
# and a text is looked up at every character: a run of 16 characters of a key, wherever it
# starts, holds a whole piece that starts at such a multiple (16 - 8 = 8), so no run is missed.
# The table has 8 entries for a 64-character key instead of 57: 10,000 keys load quickly, and
# a text costs one look-up per character, at C speed.
_PIECE = 8
_KEY_STEP = MIN_FRAGMENT - _PIECE
# Where a key may be written other than plainly: a percent escape (also of a `%`, as in a
# twice-encoded key, and also when a line was wrapped inside it), or line breaks.
_ESCAPE = re.compile(r"%(?:[\r\n]*2[\r\n]*5)*[\r\n]*([0-9A-Fa-f])[\r\n]*([0-9A-Fa-f])|[\r\n]+")
_SECRETLIKE = re.compile(rf"[A-Za-z0-9+/=%]{{{MIN_FRAGMENT},}}")
# When every key is 64 hex or 88 base64 characters, the shortest run the Redactor masks; when
# every key is hex, a run of hex digits (a space, read as a `+`, then breaks a run: no hex key
# holds one). Odd keys (--allow-odd-keys) may hide in any text: every text is looked at.
_MASKABLE_RUN = re.compile(rf"[A-Za-z0-9+/=]{{{MIN_FRAGMENT},}}")
_HEX_RUN = re.compile(rf"[0-9A-Fa-f]{{{MIN_FRAGMENT},}}")
_ANY_TEXT = re.compile("")


def _run_pattern(keys: Iterable[ServiceKey]) -> re.Pattern[str]:
    """Which texts can hold a run of these keys: see _MASKABLE_RUN."""
    raws = [key.reveal() for key in keys]
    if all(_HEX_KEY.fullmatch(raw) for raw in raws):
        return _HEX_RUN
    if all(has_known_shape(raw) for raw in raws):
        return _MASKABLE_RUN
    return _ANY_TEXT


class _Reading:
    """A text read the way a key could be written in it, and the way back to the text.

    Percent escapes, in upper or lower case and encoded more than once, become the character
    they stand for; a space becomes the `+` it may have stood for; line breaks are dropped.
    """

    __slots__ = ("_segments", "_starts", "text")

    def __init__(self, text: str) -> None:
        # Each segment: where it starts in the reading, where in the text, and the length of the
        # escape it reads as one character (0: a plain stretch, read as it is written).
        segments: list[tuple[int, int, int]] = [(0, 0, 0)]
        if "%" not in text and "\n" not in text and "\r" not in text:
            self.text = text.replace(" ", "+")
        else:
            segments, parts, length, done = [], [], 0, 0
            for match in _ESCAPE.finditer(text):
                if match.start() > done:
                    segments.append((length, done, 0))
                    parts.append(text[done : match.start()].replace(" ", "+"))
                    length += match.start() - done
                high, low = match.group(1, 2)
                if high is not None:  # line breaks alone read as nothing
                    character = chr(int(high + low, 16))
                    segments.append((length, match.start(), match.end() - match.start()))
                    parts.append("+" if character == " " else character)
                    length += 1
                done = match.end()
            segments.append((length, done, 0))
            parts.append(text[done:].replace(" ", "+"))
            self.text = "".join(parts)
        self._segments = segments
        self._starts = [segment[0] for segment in segments]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Where in the text the reading's characters `start` to `end` (exclusive) were written."""
        return self._place(start)[0], self._place(end - 1)[1]

    def _place(self, at: int) -> tuple[int, int]:
        begins, written, escape = self._segments[bisect_right(self._starts, at) - 1]
        if escape:
            return written, written + escape
        return written + at - begins, written + at - begins + 1


class Redactor:
    """Masks known keys in text: any run of 16 or more characters of a key, in any of its forms,
    becomes that key's preview; any `serviceKey=` value is hidden.

    Build one for a run and keep it: the look-up table costs more than a text does. It is made
    at the first text, so a run that masks nothing never pays for it.
    """

    __slots__ = ("_index", "_keys", "_previews", "_raws", "_runs_of", "_shared", "_short")

    def __init__(self, keys: Iterable[ServiceKey]) -> None:
        self._keys: tuple[ServiceKey, ...] | None = tuple(keys)
        # The runs a key of this pool could be masked in, found at the first text.
        self._runs_of: re.Pattern[str] | None = None
        self._raws: list[str] = []
        self._previews: list[str] = []
        # Every aligned piece of every key: the piece, then which key and where in it (number *
        # 65536 + offset). A piece that two keys share (rare) is in `_shared`, with all its places.
        self._index: dict[str, int] = {}
        self._shared: dict[str, list[int]] = {}
        # Keys too short to hold a run of 16 are masked where they appear whole.
        self._short: list[tuple[str, str]] = []

    def _build(self, keys: tuple[ServiceKey, ...]) -> None:
        self._keys = None
        long_keys = []
        for key in keys:
            raw = key.reveal()
            if len(raw) < MIN_FRAGMENT:
                if len(raw) > PREVIEW_LENGTH:
                    self._short.append((raw, key.preview))
                continue
            long_keys.append((raw, key.preview))
        # Every piece at once, in one dict: when no two keys share a piece (the rule, for random
        # keys) that is the whole table; otherwise it is built piece by piece, sharing kept.
        self._raws = [raw for raw, _ in long_keys]
        self._previews = [preview for _, preview in long_keys]
        pieces = [
            (raw[offset : offset + _PIECE], (number << 16) + offset)
            for number, raw in enumerate(self._raws)
            for offset in range(0, len(raw) - _PIECE + 1, _KEY_STEP)
        ]
        self._index = dict(pieces)
        if len(self._index) != len(pieces):
            # Some 8-character pieces recur (among 10,000 hex keys, one pair is likely): those
            # keep every place they have, and the first as their entry, as `_add` does.
            counts = Counter(piece for piece, _ in pieces)
            recurring = {piece for piece, count in counts.items() if count > 1}
            for piece, place in pieces:
                if piece in recurring:
                    self._shared.setdefault(piece, []).append(place)
            for piece, places in self._shared.items():
                self._index[piece] = places[0]

    def _add(self, raw: str, preview: str) -> None:
        number = len(self._raws)
        self._raws.append(raw)
        self._previews.append(preview)
        index, base = self._index, number << 16
        for offset in range(0, len(raw) - _PIECE + 1, _KEY_STEP):
            piece, place = raw[offset : offset + _PIECE], base + offset
            first = index.setdefault(piece, place)
            if first != place:  # a piece seen before (rare): every place it has is kept
                self._shared.setdefault(piece, [first]).append(place)

    def __call__(self, text: str) -> str:
        """The text with keys masked and any `serviceKey=` value hidden."""
        if self._keys is not None:
            if self._runs_of is None:
                self._runs_of = _run_pattern(self._keys)
            if self._runs_of is not _ANY_TEXT and not self._runs_of.search(_Reading(text).text):
                # No run a key could be masked in (read as a key may be written): the table of
                # 10,000 keys is not built for a log line of previews and counts.
                return _SERVICE_KEY_PARAM.sub("serviceKey=***", text)
            self._build(self._keys)
        if self._index and len(text) >= MIN_FRAGMENT:
            text = self._mask_runs(text)
        for raw, preview in self._short:
            for form in (raw, quote(raw, safe="")):
                text = text.replace(form, preview)
        return _SERVICE_KEY_PARAM.sub("serviceKey=***", text)

    def _mask_runs(self, text: str) -> str:
        reading = _Reading(text)
        found = self._runs(reading.text)
        if not found:
            return text
        pieces: list[str] = []
        done = 0
        for start, end, number in found:
            left, right = reading.span(start, end)
            pieces += [text[done:left], self._previews[number]]
            done = right
        pieces.append(text[done:])
        return "".join(pieces)

    def _runs(self, read: str) -> list[tuple[int, int, int]]:
        """The runs of 16 or more characters of a key in `read`: start, end, which key."""
        index, last = self._index, len(read) - _PIECE + 1
        looked_at = range(last)
        if last <= 0 or index.keys().isdisjoint([read[at : at + _PIECE] for at in looked_at]):
            return []  # the common case, decided at C speed
        runs: list[tuple[int, int, int]] = []
        for at in looked_at:
            if runs and at < runs[-1][1]:
                continue  # inside a run already found
            piece = read[at : at + _PIECE]
            place = index.get(piece)
            if place is None:
                continue
            best: tuple[int, int, int] | None = None
            for candidate in self._shared.get(piece, (place,)):
                number, offset = candidate >> 16, candidate & 0xFFFF
                start, end = _common_run(read, at, self._raws[number], offset)
                longest = 0 if best is None else best[1] - best[0]
                if end - start >= max(MIN_FRAGMENT, longest + 1):
                    best = (start, end, number)
            if best is None:
                continue
            while runs and best[0] < runs[-1][1]:  # overlaps a run before: one mask for both
                before = runs.pop()
                best = (min(before[0], best[0]), max(before[1], best[1]), before[2])
            runs.append(best)
        return runs


def _common_run(read: str, at: int, raw: str, offset: int) -> tuple[int, int]:
    """How far around `read[at]` (= `raw[offset]`) the text goes on reading as the key."""
    start, key_start = at, offset
    while start > 0 and key_start > 0 and read[start - 1] == raw[key_start - 1]:
        start, key_start = start - 1, key_start - 1
    end, key_end = at + _PIECE, offset + _PIECE
    while end < len(read) and key_end < len(raw) and read[end] == raw[key_end]:
        end, key_end = end + 1, key_end + 1
    return start, end


def redact(text: str, keys: Iterable[ServiceKey]) -> str:
    """Mask every key in `text` (see Redactor), for one text: only the keys that may appear in
    it get a table. Code that masks many texts should keep one Redactor instead."""
    read = _Reading(text).text
    pieces = {read[at : at + _PIECE] for at in range(len(read) - _PIECE + 1)}
    return Redactor(key for key in keys if _may_appear(key.reveal(), pieces))(text)


def _may_appear(raw: str, pieces: set[str]) -> bool:
    """False only when no run of 16 of `raw` can be in a text of these pieces: such a run holds
    a piece of the key that starts at a multiple of 8."""
    if len(raw) < MIN_FRAGMENT:
        return True  # masked where it appears whole: no table, no cost
    step = _KEY_STEP
    return any(raw[at : at + _PIECE] in pieces for at in range(0, len(raw) - _PIECE + 1, step))


def mask_secretlike(text: str) -> str:
    """Cut any run of 16 or more characters a key is made of to its first 10 and `...`.

    For values echoed back from settings and options, where a key may have been typed by
    mistake (say into KTO_RESERVE) and no key list says what to look for.
    """
    return _SECRETLIKE.sub(lambda match: preview_of(match.group(0)), text)


_SERVICE_KEY_PARAM = re.compile(r"serviceKey=[^&\s'\"]+")
