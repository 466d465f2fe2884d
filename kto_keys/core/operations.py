"""The TourAPI operations this tool calls, and the detail kinds a user chooses among (pure)."""

from __future__ import annotations

from enum import StrEnum

from kto_keys.core.errors import SettingsError, SettingsProblem


class Operation(StrEnum):
    """One TourAPI operation; quota is counted per key and per operation."""

    PROVINCES = "ldongCode2"
    LIST = "areaBasedList2"
    DETAIL_INTRO = "detailIntro2"
    DETAIL_COMMON = "detailCommon2"
    DETAIL_IMAGES = "detailImage2"


class DetailKind(StrEnum):
    """A detail a user can ask for with `--details`; each costs one call per record."""

    INTRO = "intro"
    COMMON = "common"
    IMAGES = "images"

    @property
    def operation(self) -> Operation:
        """The operation that fetches this detail."""
        return _DETAIL_OPERATION[self]


_DETAIL_OPERATION = {
    DetailKind.INTRO: Operation.DETAIL_INTRO,
    DetailKind.COMMON: Operation.DETAIL_COMMON,
    DetailKind.IMAGES: Operation.DETAIL_IMAGES,
}
# The cheapest call there is: probes, key tests and the province list use it.
PROBE_OPERATION = Operation.PROVINCES
# What a collection spends quota on, in the order it spends it.
COLLECTION_OPERATIONS = (Operation.LIST, Operation.DETAIL_INTRO, Operation.DETAIL_COMMON)


def parse_detail_kinds(text: str) -> tuple[DetailKind, ...]:
    """`intro,common`, `none` or `all` → the detail kinds to fetch."""
    value = text.strip().lower()
    if value == "none":
        return ()
    if value == "all":
        return tuple(DetailKind)
    names = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    known = {kind.value: kind for kind in DetailKind}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise SettingsError(
            SettingsProblem.UNKNOWN_DETAILS,
            values=tuple(unknown) or (text,),
            valid=(*known, "none", "all"),
        )
    return tuple(known[name] for name in names)
