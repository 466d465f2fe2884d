"""The local gateway's restaurants: deterministic generation from a seed, queries and mutations."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from kto_keys.sim.geography import (
    DEFAULT_SIZES,
    centre_of,
    districts_of,
    legacy_area_of,
    province_name,
)

RESTAURANT = "39"

LIST_FIELDS: tuple[str, ...] = (
    "addr1",
    "addr2",
    "areacode",
    "cat1",
    "cat2",
    "cat3",
    "contentid",
    "contenttypeid",
    "createdtime",
    "firstimage",
    "firstimage2",
    "cpyrhtDivCd",
    "mapx",
    "mapy",
    "mlevel",
    "modifiedtime",
    "sigungucode",
    "tel",
    "title",
    "zipcode",
    "lDongRegnCd",
    "lDongSignguCd",
    "lclsSystm1",
    "lclsSystm2",
    "lclsSystm3",
)

COMMON_FIELDS: tuple[str, ...] = (
    "contentid",
    "contenttypeid",
    "title",
    "createdtime",
    "modifiedtime",
    "tel",
    "telname",
    "homepage",
    "firstimage",
    "firstimage2",
    "cpyrhtDivCd",
    "areacode",
    "sigungucode",
    "lDongRegnCd",
    "lDongSignguCd",
    "lclsSystm1",
    "lclsSystm2",
    "lclsSystm3",
    "cat1",
    "cat2",
    "cat3",
    "addr1",
    "addr2",
    "zipcode",
    "mapx",
    "mapy",
    "mlevel",
    "overview",
)

INTRO_FIELDS: tuple[str, ...] = (
    "seat",
    "kidsfacility",
    "firstmenu",
    "treatmenu",
    "smoking",
    "packing",
    "infocenterfood",
    "scalefood",
    "parkingfood",
    "opendatefood",
    "opentimefood",
    "restdatefood",
    "discountinfofood",
    "chkcreditcardfood",
    "reservationfood",
    "lcnsno",
)

# Seoul keeps its legacy area code on ~27 % of records, the rest of the country on ~50 %: ~45 % overall.
_LEGACY_SHARE = {"11": 0.27}
_LEGACY_SHARE_ELSEWHERE = 0.5
_IMAGE_SHARE = 0.7
_NO_INTRO_SHARE = 0.1
_PLACEHOLDER_SHARE = 0.01
_FIRST_CONTENTID = 2_000_000
_TIME_FORMAT = "%Y%m%d%H%M%S"
_EPOCH = datetime(2005, 1, 1)
_LAST_CREATED = datetime(2024, 12, 31)
_LAST_MODIFIED = datetime(2025, 6, 30)
FIRST_DAY = date(2025, 7, 1)

_PREFIXES = (
    "한밭",
    "종로",
    "바다",
    "고향",
    "할매",
    "소문난",
    "명동",
    "옛날",
    "원조",
    "산골",
    "청기와",
    "돌담",
)
_DISHES = (
    "칼국수",
    "국밥",
    "식당",
    "횟집",
    "갈비",
    "냉면",
    "분식",
    "반점",
    "주막",
    "카페",
    "돈까스",
    "쌈밥",
)
_MENUS = (
    "칼국수",
    "수육",
    "만두",
    "비빔밥",
    "된장찌개",
    "불고기",
    "파전",
    "김치찌개",
    "냉면",
    "커피",
)
_CLASSES = (
    ("FD01", "A05020100"),
    ("FD02", "A05020200"),
    ("FD03", "A05020700"),
    ("FD04", "A05020800"),
    ("FD05", "A05020900"),
)
_ROADS = ("중앙로", "시청로", "문화로", "역전로", "해안로", "공원로")


@dataclass(frozen=True, slots=True)
class Image:
    """One image of a record as `detailImage2` lists it."""

    originimgurl: str
    smallimageurl: str
    imgname: str
    serialnum: str
    cpyrhtDivCd: str


@dataclass(frozen=True, slots=True)
class Restaurant:
    """One restaurant record: its list fields, its details, and whether it is hidden."""

    contentid: str
    title: str
    addr1: str
    addr2: str
    zipcode: str
    lDongRegnCd: str
    lDongSignguCd: str
    areacode: str
    sigungucode: str
    cat1: str
    cat2: str
    cat3: str
    lclsSystm2: str
    lclsSystm3: str
    mapx: str
    mapy: str
    createdtime: str
    modifiedtime: str
    firstimage: str
    firstimage2: str
    cpyrhtDivCd: str
    phone: str
    telname: str
    homepage: str
    overview: str
    intro: Mapping[str, str] | None
    images: tuple[Image, ...]
    hidden: bool = False
    revision: int = 0
    base_title: str = ""
    contenttypeid: str = RESTAURANT
    lclsSystm1: str = "FD"
    mlevel: str = "6"
    tel: str = ""

    def list_item(self) -> dict[str, str]:
        """Return the record as `areaBasedList2` lists it (restaurants' `tel` is empty there)."""
        return {name: getattr(self, name) for name in LIST_FIELDS}

    def sync_item(self) -> dict[str, str]:
        """Return the record as `areaBasedSyncList2` lists it: the list fields plus `showflag`."""
        return {**self.list_item(), "showflag": "0" if self.hidden else "1"}

    def common_item(self) -> dict[str, str]:
        """Return the record's 28 `detailCommon2` fields."""
        item = {name: getattr(self, name) for name in COMMON_FIELDS}
        item["tel"] = self.phone
        return item

    def intro_item(self) -> dict[str, str] | None:
        """Return the record's `detailIntro2` fields, or None when it has no intro data."""
        if self.intro is None:
            return None
        return {"contentid": self.contentid, "contenttypeid": self.contenttypeid, **self.intro}

    def image_items(self) -> list[dict[str, str]]:
        """Return the record's `detailImage2` items."""
        return [
            {
                "contentid": self.contentid,
                "originimgurl": image.originimgurl,
                "imgname": image.imgname,
                "smallimageurl": image.smallimageurl,
                "cpyrhtDivCd": image.cpyrhtDivCd,
                "serialnum": image.serialnum,
            }
            for image in self.images
        ]


def _stamp(moment: datetime) -> str:
    return moment.strftime(_TIME_FORMAT)


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = int((end - start).total_seconds())
    return start + timedelta(seconds=rng.randint(0, max(span, 0)))


def _phone(rng: random.Random, province: str) -> str:
    area = "02" if province == "11" else f"0{rng.randint(31, 64)}"
    return f"{area}-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}"


def _intro(rng: random.Random, phone: str, revision: int) -> dict[str, str]:
    menus = rng.sample(_MENUS, 3)
    opens = 10 + (rng.randint(0, 2) + revision) % 4
    values = {
        "seat": f"{rng.randint(2, 12) * 10}석",
        "kidsfacility": rng.choice(("0", "1")),
        "firstmenu": menus[0],
        "treatmenu": ", ".join(menus),
        "smoking": "금연",
        "packing": rng.choice(("가능", "불가")),
        "infocenterfood": phone,
        "scalefood": "",
        "parkingfood": rng.choice(("가능", "불가", "")),
        "opendatefood": "",
        "opentimefood": f"{opens:02d}:00~{opens + 11:02d}:30",
        "restdatefood": rng.choice(("매주 월요일", "연중무휴", "명절 당일")),
        "discountinfofood": "",
        "chkcreditcardfood": "가능",
        "reservationfood": rng.choice(("가능", "불가")),
        "lcnsno": f"{rng.randint(2005, 2024)}{rng.randint(0, 9_999_999):07d}",
    }
    return {name: values[name] for name in INTRO_FIELDS}


def _image_url(contentid: str, kind: int, serial: int) -> str:
    return (
        f"http://tong.visitkorea.or.kr/cms/resource/{contentid[-2:]}/"
        f"{contentid}_image{kind}_{serial}.jpg"
    )


def _new_record(
    rng: random.Random,
    contentid: str,
    province: str,
    created: datetime,
    modified: datetime,
    *,
    keeps_legacy: bool,
) -> Restaurant:
    """Build one record; legacy fields, intro and coordinates are settled by the caller."""
    district = rng.choice(districts_of(province))
    lcls2, cat3 = rng.choice(_CLASSES)
    title = f"{rng.choice(_PREFIXES)} {rng.choice(_DISHES)}"
    longitude, latitude = centre_of(province)
    has_image = rng.random() < _IMAGE_SHARE
    # Every restaurant with intro data has a phone in `infocenterfood`; list answers leave `tel` empty.
    phone = _phone(rng, province)
    images = tuple(
        Image(
            originimgurl=_image_url(contentid, 2, serial),
            smallimageurl=_image_url(contentid, 3, serial),
            imgname=f"{title} {serial}",
            serialnum=f"{contentid}_{serial}",
            cpyrhtDivCd="Type3",
        )
        for serial in range(1, (rng.randint(1, 3) if has_image else 0) + 1)
    )
    homepage = (
        f'<a href="https://example.invalid/{contentid}" target="_blank">example.invalid</a>'
        if rng.random() < 0.5
        else ""
    )
    return Restaurant(
        contentid=contentid,
        title=title,
        base_title=title,
        addr1=(
            f"{province_name(province)} {district.name} {rng.choice(_ROADS)} {rng.randint(1, 300)}"
        ),
        addr2=rng.choice(("", "", "1층", "2층", "지하 1층")),
        zipcode=f"{rng.randint(1000, 63999):05d}",
        lDongRegnCd=province,
        lDongSignguCd=district.code,
        areacode=legacy_area_of(province) if keeps_legacy else "",
        sigungucode=district.legacy_code if keeps_legacy and legacy_area_of(province) else "",
        cat1="A05" if keeps_legacy else "",
        cat2="A0502" if keeps_legacy else "",
        cat3=cat3 if keeps_legacy else "",
        lclsSystm2=lcls2,
        lclsSystm3=f"{lcls2}0{rng.randint(1, 3)}00",
        mapx=f"{longitude + rng.uniform(-0.15, 0.15):.10f}",
        mapy=f"{latitude + rng.uniform(-0.12, 0.12):.10f}",
        createdtime=_stamp(created),
        modifiedtime=_stamp(modified),
        firstimage=_image_url(contentid, 2, 1) if has_image else "",
        firstimage2=_image_url(contentid, 3, 1) if has_image else "",
        cpyrhtDivCd="Type3" if has_image else "",
        phone=phone,
        telname=title if phone and rng.random() < 0.3 else "",
        homepage=homepage,
        overview=f"{title}은 {district.name}의 음식점이다.<br>\n대표 메뉴를 직접 만든다.",
        intro=_intro(rng, phone, 0),
        images=images,
    )


@dataclass(slots=True)
class _Mutations:
    """Counters that make each mutation batch predictable."""

    batches: int = 0
    today: date = FIRST_DAY
    stamps_today: int = 0


class Dataset:
    """All restaurants of the local gateway, generated from `seed` and `sizes`; thread-safe."""

    def __init__(self, seed: int = 1, sizes: Mapping[str, int] | None = None) -> None:
        self.seed = seed
        self.sizes: dict[str, int] = dict(DEFAULT_SIZES if sizes is None else sizes)
        self._records: dict[str, Restaurant] = {}
        self._next_id = _FIRST_CONTENTID
        self._lock = threading.RLock()
        self._mutations = _Mutations()
        self._ordered: tuple[Restaurant, ...] | None = None
        # Selections made from the records as they are now (see `remembered`).
        self._remembered: dict[Hashable, tuple[Restaurant, ...]] = {}
        self._generate()

    def _generate(self) -> None:
        rng = random.Random(f"kto-keys-gateway:{self.seed}")
        for province, count in self.sizes.items():
            share = _LEGACY_SHARE.get(province, _LEGACY_SHARE_ELSEWHERE)
            keeping = set(rng.sample(range(count), round(count * share)))
            for index in range(count):
                created = _between(rng, _EPOCH, _LAST_CREATED)
                modified = _between(rng, created, _LAST_MODIFIED)
                record = _new_record(
                    rng,
                    self._take_id(rng),
                    province,
                    created,
                    modified,
                    keeps_legacy=index in keeping,
                )
                self._records[record.contentid] = record
        ids = sorted(self._records)
        for contentid in rng.sample(ids, round(len(ids) * _NO_INTRO_SHARE)):
            self._records[contentid] = replace(self._records[contentid], intro=None)
        placeholders = rng.sample(ids, min(len(ids), max(3, round(len(ids) * _PLACEHOLDER_SHARE))))
        for n, contentid in enumerate(placeholders):
            where = "0" if n % 2 == 0 else "200.0"
            self._records[contentid] = replace(self._records[contentid], mapx=where, mapy=where)

    def _take_id(self, rng: random.Random) -> str:
        self._next_id += rng.randint(1, 97)
        return str(self._next_id)

    def records(self, *, include_hidden: bool = False) -> tuple[Restaurant, ...]:
        """Return all records in contentid order, hidden ones only when asked."""
        with self._lock:
            ordered = self._now_ordered()
        return ordered if include_hidden else tuple(r for r in ordered if not r.hidden)

    def remembered(
        self, key: Hashable, make: Callable[[], tuple[Restaurant, ...]]
    ) -> tuple[Restaurant, ...]:
        """`make()`, made once while the records stay as they are: a client paging through a
        province asks for the same filtered, ordered records at every page, and scanning all of
        them each time made this gateway, not the service it stands for, the slow part of a
        benchmark (5 ms a call for 12,000 records; 16 calls at once wait for each other)."""
        with self._lock:
            self._now_ordered()
            if key not in self._remembered:
                self._remembered[key] = make()
            return self._remembered[key]

    def _now_ordered(self) -> tuple[Restaurant, ...]:
        """The records in contentid order; what was remembered of older records is forgotten."""
        if self._ordered is None:
            self._ordered = tuple(sorted(self._records.values(), key=lambda r: int(r.contentid)))
            self._remembered = {}
        return self._ordered

    def record(self, contentid: str) -> Restaurant | None:
        """Return one record by contentid, hidden or not, or None."""
        with self._lock:
            return self._records.get(contentid)

    def contentids(self, province: str | None = None, include_hidden: bool = False) -> list[str]:
        """Return the contentids of one province (or all), in contentid order."""
        return [
            r.contentid
            for r in self.records(include_hidden=include_hidden)
            if province is None or r.lDongRegnCd == province
        ]

    def today(self) -> date:
        """Return the dataset's current day: mutations stamp `modifiedtime` on it."""
        with self._lock:
            return self._mutations.today

    def next_day(self) -> None:
        """Move the dataset's day on by one, as the gateway's midnight does."""
        with self._lock:
            self._mutations.today += timedelta(days=1)
            self._mutations.stamps_today = 0

    def modify(self, n: int, province: str | None = None) -> list[str]:
        """Change n visible records (title, details, modifiedtime today); return their contentids."""
        with self._lock:
            chosen = self._choose("modify", n, province)
            for contentid in chosen:
                self._records[contentid] = self._modified(self._records[contentid])
            self._ordered = None
            return chosen

    def hide(self, n: int, province: str | None = None) -> list[str]:
        """Hide n visible records (withdrawn: showflag 0, modifiedtime today); return them."""
        with self._lock:
            chosen = self._choose("hide", n, province)
            for contentid in chosen:
                self._records[contentid] = replace(
                    self._records[contentid], hidden=True, modifiedtime=self._next_stamp()
                )
            self._ordered = None
            return chosen

    def insert(self, province: str, n: int) -> list[str]:
        """Add n new records to a province, created and modified today; return their contentids."""
        with self._lock:
            rng = self._batch_rng("insert")
            added: list[str] = []
            for _ in range(n):
                stamp = datetime.strptime(self._next_stamp(), _TIME_FORMAT)
                record = _new_record(
                    rng,
                    self._take_id(rng),
                    province,
                    stamp,
                    stamp,
                    keeps_legacy=rng.random()
                    < _LEGACY_SHARE.get(province, _LEGACY_SHARE_ELSEWHERE),
                )
                self._records[record.contentid] = record
                added.append(record.contentid)
            self._ordered = None
            return added

    def _batch_rng(self, action: str) -> random.Random:
        self._mutations.batches += 1
        return random.Random(f"kto-keys-gateway:{self.seed}:{action}:{self._mutations.batches}")

    def _choose(self, action: str, n: int, province: str | None) -> list[str]:
        rng = self._batch_rng(action)
        candidates = self.contentids(province)
        return sorted(rng.sample(candidates, min(n, len(candidates))), key=int)

    def _next_stamp(self) -> str:
        """Return the next modification time of today: 09:00:00, 09:00:01, ..."""
        moment = datetime.combine(self._mutations.today, datetime.min.time()) + timedelta(
            hours=9, seconds=self._mutations.stamps_today
        )
        self._mutations.stamps_today += 1
        return _stamp(moment)

    def _modified(self, record: Restaurant) -> Restaurant:
        revision = record.revision + 1
        rng = random.Random(f"kto-keys-gateway:{self.seed}:{record.contentid}:{revision}")
        intro = None if record.intro is None else _intro(rng, record.phone, revision)
        return replace(
            record,
            revision=revision,
            title=f"{record.base_title} {revision + 1}호점",
            modifiedtime=self._next_stamp(),
            overview=f"{record.overview}<br>\n메뉴와 영업시간이 바뀌었다 ({revision}).",
            intro=intro,
        )
