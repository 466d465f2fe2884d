"""Provinces, districts and legacy area codes that the local gateway's dataset is built on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Province:
    """A province as `ldongCode2` lists it: a 2-digit legal-district code and its name."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class District:
    """A district of a province: 3-digit `lDongSignguCd`, its name, and its legacy sigungu code."""

    code: str
    name: str
    legacy_code: str


@dataclass(frozen=True, slots=True)
class LegacyArea:
    """A legacy `areaCode2` area and the province code it maps to."""

    code: str
    name: str
    province: str


PROVINCES: tuple[Province, ...] = (
    Province("11", "서울특별시"),
    Province("26", "부산광역시"),
    Province("27", "대구광역시"),
    Province("28", "인천광역시"),
    Province("29", "광주광역시"),
    Province("30", "대전광역시"),
    Province("31", "울산광역시"),
    Province("36", "세종특별자치시"),
    Province("41", "경기도"),
    Province("43", "충청북도"),
    Province("44", "충청남도"),
    Province("46", "전라남도"),
    Province("47", "경상북도"),
    Province("48", "경상남도"),
    Province("50", "제주특별자치도"),
    Province("51", "강원특별자치도"),
    Province("52", "전북특별자치도"),
)

# Since July 2026 (about September in ldongCode2): 12 in place of 29 and 46, 16 provinces.
MERGED_2026_PROVINCES: tuple[Province, ...] = (
    *(province for province in PROVINCES if province.code not in ("29", "46")),
    Province("12", "전남광주통합특별시"),
)

# Roughly 1/10 of the real ~13,500 restaurants; Seoul largest, Sejong small. Total 1,350.
DEFAULT_SIZES: dict[str, int] = {
    "11": 280,
    "26": 90,
    "27": 55,
    "28": 60,
    "29": 35,
    "30": 35,
    "31": 25,
    "36": 8,
    "41": 210,
    "43": 50,
    "44": 57,
    "46": 75,
    "47": 85,
    "48": 85,
    "50": 65,
    "51": 80,
    "52": 55,
}

LEGACY_AREAS: tuple[LegacyArea, ...] = (
    LegacyArea("1", "서울", "11"),
    LegacyArea("2", "인천", "28"),
    LegacyArea("3", "대전", "30"),
    LegacyArea("4", "대구", "27"),
    LegacyArea("5", "광주", "29"),
    LegacyArea("6", "부산", "26"),
    LegacyArea("7", "울산", "31"),
    LegacyArea("8", "세종특별자치시", "36"),
    LegacyArea("31", "경기도", "41"),
    LegacyArea("32", "강원특별자치도", "51"),
    LegacyArea("33", "충청북도", "43"),
    LegacyArea("34", "충청남도", "44"),
    LegacyArea("35", "경상북도", "47"),
    LegacyArea("36", "경상남도", "48"),
    LegacyArea("37", "전북특별자치도", "52"),
    LegacyArea("38", "전라남도", "46"),
    LegacyArea("39", "제주도", "50"),
)

_DISTRICT_NAMES: dict[str, tuple[tuple[str, str], ...]] = {
    "11": (
        ("110", "종로구"),
        ("140", "중구"),
        ("440", "마포구"),
        ("650", "서초구"),
        ("680", "강남구"),
    ),
    "26": (("110", "중구"), ("350", "해운대구"), ("500", "수영구")),
    "27": (("110", "중구"), ("260", "수성구"), ("290", "달서구")),
    "28": (("110", "중구"), ("185", "연수구"), ("237", "부평구")),
    "29": (("110", "동구"), ("155", "서구"), ("170", "북구")),
    "30": (("110", "동구"), ("200", "유성구"), ("230", "대덕구")),
    "31": (("110", "중구"), ("140", "남구"), ("710", "울주군")),
    "36": (("110", "세종특별자치시"),),
    "41": (
        ("111", "수원시 장안구"),
        ("131", "성남시 수정구"),
        ("281", "고양시 덕양구"),
        ("590", "화성시"),
    ),
    "43": (("111", "청주시 상당구"), ("130", "충주시"), ("150", "제천시")),
    "44": (("131", "천안시 동남구"), ("150", "공주시"), ("180", "보령시")),
    "46": (("110", "목포시"), ("130", "여수시"), ("150", "순천시")),
    "47": (("111", "포항시 남구"), ("130", "경주시"), ("170", "안동시")),
    "48": (("121", "창원시 의창구"), ("170", "진주시"), ("310", "거제시")),
    "50": (("110", "제주시"), ("130", "서귀포시")),
    "51": (("110", "춘천시"), ("150", "강릉시"), ("210", "속초시")),
    "52": (("111", "전주시 완산구"), ("130", "군산시"), ("140", "익산시")),
}

# Rough centre (longitude, latitude) of each province, for plausible coordinates.
_CENTRES: dict[str, tuple[float, float]] = {
    "11": (126.98, 37.56),
    "26": (129.07, 35.18),
    "27": (128.60, 35.87),
    "28": (126.70, 37.46),
    "29": (126.85, 35.16),
    "30": (127.38, 36.35),
    "31": (129.31, 35.54),
    "36": (127.29, 36.48),
    "41": (127.20, 37.41),
    "43": (127.70, 36.80),
    "44": (126.80, 36.50),
    "46": (126.90, 34.80),
    "47": (128.90, 36.40),
    "48": (128.25, 35.30),
    "50": (126.55, 33.40),
    "51": (128.30, 37.80),
    "52": (127.10, 35.80),
}


def province_name(code: str) -> str:
    """Return the name of a province code, or a made-up one for a code outside the table."""
    for province in PROVINCES:
        if province.code == code:
            return province.name
    return f"지역{code}"


def districts_of(province: str) -> tuple[District, ...]:
    """Return the districts of a province; a code outside the table gets three made-up ones."""
    names = _DISTRICT_NAMES.get(province) or tuple(
        (f"{110 + 10 * i}", f"제{i + 1}구") for i in range(3)
    )
    return tuple(District(code, name, str(i + 1)) for i, (code, name) in enumerate(names))


def legacy_area_of(province: str) -> str:
    """Return the legacy area code of a province code, or "" when it has none."""
    for area in LEGACY_AREAS:
        if area.province == province:
            return area.code
    return ""


def centre_of(province: str) -> tuple[float, float]:
    """Return a rough (longitude, latitude) centre for a province code."""
    return _CENTRES.get(province, (127.5, 36.5))
