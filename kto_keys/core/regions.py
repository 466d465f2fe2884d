"""Regions: legacy area codes users know, the province codes the service filters by, and modes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from kto_keys.core.errors import SettingsError, SettingsProblem


@dataclass(frozen=True, slots=True)
class Region:
    """One province: its legal-district code, the legacy area code, and its names."""

    ldong: str
    area: str | None
    name_ko: str
    name_en: str


# The doc's mapping (tourapi.md, "Province codes"). The service's own list may differ.
REGIONS: tuple[Region, ...] = (
    Region("11", "1", "서울특별시", "Seoul"),
    Region("28", "2", "인천광역시", "Incheon"),
    Region("30", "3", "대전광역시", "Daejeon"),
    Region("27", "4", "대구광역시", "Daegu"),
    Region("29", "5", "광주광역시", "Gwangju"),
    Region("26", "6", "부산광역시", "Busan"),
    Region("31", "7", "울산광역시", "Ulsan"),
    Region("36", "8", "세종특별자치시", "Sejong"),
    Region("41", "31", "경기도", "Gyeonggi"),
    Region("51", "32", "강원특별자치도", "Gangwon"),
    Region("43", "33", "충청북도", "North Chungcheong"),
    Region("44", "34", "충청남도", "South Chungcheong"),
    Region("47", "35", "경상북도", "North Gyeongsang"),
    Region("48", "36", "경상남도", "South Gyeongsang"),
    Region("52", "37", "전북특별자치도", "North Jeolla"),
    Region("46", "38", "전라남도", "South Jeolla"),
    Region("50", "39", "제주특별자치도", "Jeju"),
    # July 2026: Gwangju (29) and South Jeolla (46) merged into one province (tourapi.md).
    Region("12", None, "전남광주통합특별시", "Gwangju-South Jeolla"),
)
# Where a province went when the service stopped listing it: the user asked for the region.
SUCCESSORS: dict[str, str] = {"29": "12", "46": "12"}
BY_AREA: dict[str, Region] = {region.area: region for region in REGIONS if region.area}
BY_LDONG: dict[str, Region] = {region.ldong: region for region in REGIONS}
MAJOR_AREAS = ("1", "6", "31", "39")


class Mode(StrEnum):
    """How the regions of a collection are chosen."""

    MAJOR = "major"
    ALL = "all"
    REGIONS = "regions"


@dataclass(frozen=True, slots=True)
class Selection:
    """The provinces of a run, as province codes, with how they were chosen."""

    mode: str
    ldong_codes: tuple[str, ...]


def parse_codes(text: str, option: str) -> tuple[str, ...]:
    """Split `1,6,31` into codes; anything but digits is a usage error."""
    codes = tuple(part.strip() for part in text.split(",") if part.strip())
    if not codes:
        raise SettingsError(SettingsProblem.EMPTY_CODES, setting=option)
    bad = tuple(code for code in codes if not code.isdigit())
    if bad:
        raise SettingsError(SettingsProblem.NOT_A_NUMBER, setting=option, values=bad)
    return tuple(dict.fromkeys(code.lstrip("0") or "0" for code in codes))


def select(
    mode: str | None,
    regions: str | None = None,
    ldong: str | None = None,
    listed: Mapping[str, str] | None = None,
) -> Selection:
    """Turn the command line's choice into province codes, checking every code offline.

    `listed` is the service's own province list as last fetched: its codes are valid too.
    """
    if ldong is not None:
        if mode not in (None, Mode.REGIONS) or regions is not None:
            raise SettingsError(SettingsProblem.LDONG_ALONE)
        codes = tuple(code.zfill(2) for code in parse_codes(ldong, "--ldong"))
        unknown = [code for code in codes if code not in BY_LDONG and code not in (listed or {})]
        if unknown:
            raise SettingsError(SettingsProblem.UNKNOWN_PROVINCE_CODES, values=tuple(unknown))
        return Selection("ldong", codes)
    if regions is not None and mode is None:
        mode = Mode.REGIONS
    chosen = _mode(mode or Mode.MAJOR)
    if chosen is Mode.REGIONS:
        if regions is None:
            raise SettingsError(SettingsProblem.REGIONS_NEEDED)
        return Selection(chosen, tuple(BY_AREA[code].ldong for code in area_codes(regions)))
    if regions is not None:
        raise SettingsError(SettingsProblem.REGIONS_WITHOUT_MODE, value=str(chosen))
    if chosen is Mode.MAJOR:
        return Selection(chosen, tuple(BY_AREA[code].ldong for code in MAJOR_AREAS))
    return Selection(chosen, tuple(region.ldong for region in REGIONS))


def area_codes(text: str) -> tuple[str, ...]:
    """Parse and check legacy area codes such as `1,6,31`."""
    codes = parse_codes(text, "--regions")
    unknown = [code for code in codes if code not in BY_AREA]
    if unknown:
        raise SettingsError(SettingsProblem.UNKNOWN_AREA_CODES, values=tuple(unknown))
    return codes


def _mode(text: str) -> Mode:
    try:
        return Mode(str(text).strip().lower())
    except ValueError:
        raise SettingsError(
            SettingsProblem.UNKNOWN_MODE,
            setting="--mode",
            value=text,
            valid=tuple(mode.value for mode in Mode),
        ) from None


@dataclass(frozen=True, slots=True)
class Followed:
    """A chosen province the service no longer lists, and the one that took its place."""

    code: str
    successor: str


def resolve_listed(
    selection: Selection, listed: Mapping[str, str]
) -> tuple[tuple[str, ...], tuple[Followed, ...]]:
    """The chosen provinces as the service lists them today: a merged one leads to its
    successor (once, however many of its parts were chosen); one that leads nowhere is an error."""
    codes: list[str] = []
    followed: list[Followed] = []
    missing: list[str] = []
    for code in selection.ldong_codes:
        if code in listed:
            codes.append(code)
        elif SUCCESSORS.get(code) in listed:
            followed.append(Followed(code, SUCCESSORS[code]))
            codes.append(SUCCESSORS[code])
        else:
            missing.append(code)
    if missing:
        raise SettingsError(
            SettingsProblem.NO_LONGER_LISTED,
            values=tuple(missing),
            listed=dict(sorted(listed.items())),
        )
    return tuple(dict.fromkeys(codes)), tuple(followed)


def all_listed(listed: Mapping[str, str]) -> tuple[str, ...]:
    """Every province the service lists, in code order."""
    return tuple(sorted(listed))


@dataclass(frozen=True, slots=True)
class RegionRow:
    """One line of `kto-keys regions`."""

    area: str | None
    ldong: str
    name_ko: str
    name_en: str
    listed: bool | None


def region_table(listed: Mapping[str, str] | None) -> list[RegionRow]:
    """The doc's mapping joined with the service's list (None when it was never fetched)."""
    rows = [
        RegionRow(
            region.area,
            region.ldong,
            (listed or {}).get(region.ldong, region.name_ko),
            region.name_en,
            None if listed is None else region.ldong in listed,
        )
        for region in REGIONS
    ]
    known = {region.ldong for region in REGIONS}
    for code, name in sorted((listed or {}).items()):
        if code not in known:
            rows.append(RegionRow(None, code, name, "", True))
    return rows


def names_of(codes: Iterable[str], listed: Mapping[str, str] | None = None) -> Sequence[str]:
    """Readable names for province codes."""
    return [
        (listed or {}).get(code) or (BY_LDONG[code].name_ko if code in BY_LDONG else code)
        for code in codes
    ]
