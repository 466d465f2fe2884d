"""Verdicts under real faults, row by row, against the local gateway over real HTTP.

Each test gives the figures a user would check: calls the gateway counted, keys deactivated (0
where no key is to blame), the exit code, and the seconds until the run stopped (on the clock
the run sleeps on, so nothing is waited out here).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from conftest import GatewayFactory, exit_code, hex_key, make_settings, said

from kto_keys.core.clock import FakeClock
from kto_keys.core.errors import (
    GatewayUnavailableError,
    HostUnreachableError,
    NoUsableKeyError,
    ServiceConfigError,
)
from kto_keys.jobs.session import Session, open_session
from kto_keys.sim import (
    BehaviourKind,
    ErrorRate,
    Fault,
    KeyBehaviour,
    OptInFault,
    UnknownOperation,
    WrongUrl,
)

LIST = "areaBasedList2"
INTRO = "detailIntro2"
PAGE = {"contentTypeId": "39", "lDongRegnCd": "11", "numOfRows": 5, "pageNo": 1}
DETAIL = {"contentId": "2000001", "contentTypeId": "39"}
# Nothing listens on the discard port of the loopback address: every connection is refused.
NOWHERE = "http://127.0.0.1:9/B551011/KorService2"
# A guard in real seconds for the tests of answers once resent without end: a failure, not a hang.
GUARD_S = 60


async def run_calls(
    session: Session, calls: int, operation: str = LIST, concurrency: int = 1
) -> list[Any]:
    """Make calls through one client, as a run does; return what each call gave."""
    params = DETAIL if operation.startswith("detail") else PAGE
    with session.keeping_history():
        async with session.client(concurrency) as client:
            return list(
                await asyncio.gather(*(client.call(operation, params) for _ in range(calls)))
            )


def deactivated(session: Session) -> list[int]:
    """The indexes of the keys the pool took out."""
    return [key.index for key in session.pool.keys if session.pool.state(key).is_deactivated]


@pytest.mark.parametrize("count", [pytest.param(1, id="one-key"), pytest.param(3, id="3-keys")])
async def test_no_network_stops_within_30_seconds_with_exit_5_blaming_no_key(
    tmp_path: Path, clock: FakeClock, count: int
) -> None:
    """Connection refused on every attempt: exit 5 naming the host, no key touched, no usage."""
    session = open_session(
        make_settings(tmp_path, [hex_key() for _ in range(count)], NOWHERE), clock
    )
    started = clock.monotonic()
    with pytest.raises(HostUnreachableError) as raised:
        await run_calls(session, 1)
    assert exit_code(raised.value) == 5
    assert 30 <= clock.monotonic() - started <= 40
    assert "cannot reach 127.0.0.1" in said(raised.value)
    assert deactivated(session) == []
    for key in session.pool.keys:
        state = session.pool.state(key)
        assert (state.usage.get(LIST, 0), state.total_errors, state.consecutive_errors) == (0, 0, 0)
    reopened = open_session(session.settings, clock)
    assert all(reopened.pool.state(key).usage.get(LIST, 0) == 0 for key in reopened.pool.keys)


async def test_a_lone_key_meeting_502s_is_never_deactivated_and_the_run_ends(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """One key, the gateway answering 502 to every call: back off, blame nobody, exit 4 at 300 s."""
    key = hex_key()
    gw = gateway(
        {key: KeyBehaviour("k", BehaviourKind.FLAKY, failure_share=1.0, faults=(Fault.HTTP_502,))}
    )
    session = open_session(make_settings(tmp_path, [key], gw.base_url), clock)
    started = clock.monotonic()
    with pytest.raises(GatewayUnavailableError) as raised:
        await run_calls(session, 1)
    assert exit_code(raised.value) == 4
    assert deactivated(session) == []
    assert 300 < clock.monotonic() - started < 340
    # Backing off 1, 2, 4, 8, 16, then 30 s: a dozen calls in 5 minutes, not one a second.
    assert 8 <= gw.total() <= 16


async def test_a_30_percent_error_rate_takes_out_no_key_and_the_work_finishes(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """3 keys, every key failing 30 % of calls at random, 600 detail calls: all done, none out."""
    keys = [hex_key() for _ in range(3)]
    gw = gateway(
        {
            key: KeyBehaviour(
                f"k{i}",
                BehaviourKind.FLAKY,
                failure_share=0.3,
                faults=(Fault.HTTP_503, Fault.HTTP_502, Fault.CODE_04),
            )
            for i, key in enumerate(keys)
        },
        seed=18,
    )
    session = open_session(make_settings(tmp_path, keys, gw.base_url), clock)
    results = await run_calls(session, 600, INTRO, concurrency=4)
    assert len(results) == 600
    assert deactivated(session) == []
    assert 600 < gw.total() < 1000  # about 600 / 0.7


async def test_429_on_every_call_ends_with_exit_4_instead_of_retrying_forever(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """Bare 429s without end: each key pauses 5, 15, 45 s, and cools for the operation at its
    4th in a row, 65 s after its first (past a per-second lock); exit 4."""
    keys = [hex_key(), hex_key()]
    gw = gateway(
        {
            key: KeyBehaviour(
                f"k{i}", BehaviourKind.FLAKY, failure_share=1.0, faults=(Fault.BARE_429,)
            )
            for i, key in enumerate(keys)
        }
    )
    session = open_session(make_settings(tmp_path, keys, gw.base_url), clock)
    started = clock.monotonic()
    with pytest.raises(NoUsableKeyError) as raised:
        await run_calls(session, 1)
    assert exit_code(raised.value) == 4
    assert gw.total() == 8  # four per key, then each key cools for this operation
    assert clock.monotonic() - started == 65
    assert deactivated(session) == []
    assert all(
        session.pool.availability(key, LIST, clock.now()).reason == "cooling"
        for key in session.pool.keys
    )


async def test_a_request_aiohttp_sends_twice_is_counted_twice(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """A reset kept-alive connection makes aiohttp send the GET again: both sends are counted."""
    key = hex_key()
    gw = gateway(
        {key: KeyBehaviour("k", BehaviourKind.FLAKY, failure_share=0.3, faults=(Fault.RESET,))},
        seed=5,
    )
    session = open_session(make_settings(tmp_path, [key], gw.base_url), clock)
    await run_calls(session, 40, INTRO, concurrency=1)
    counted = session.pool.state(session.pool.keys[0]).usage[INTRO]
    assert gw.counts()["k"][INTRO] > 40 + 5  # resets forced re-sends, some by aiohttp itself
    assert counted == gw.counts()["k"][INTRO]


@pytest.mark.parametrize(
    "base_path, config",
    [
        pytest.param("/B551011/KorService9", {}, id="unknown-service-500-unexpected-errors"),
        pytest.param(
            "/B551011/KorService2",
            {"error_rate": ErrorRate.always(OptInFault.HTTP_404)},
            id="404-on-every-call",
        ),
    ],
)
async def test_a_wrong_url_is_a_configuration_error_within_the_first_calls(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock, base_path: str, config: Any
) -> None:
    """`Unexpected errors` or a 404 from the first answer on: exit 2 naming KTO_API_BASE_URL."""
    keys = [hex_key(), hex_key()]
    gw = gateway({key: KeyBehaviour(f"k{i}") for i, key in enumerate(keys)}, **config)
    base_url = gw.base_url.replace("/B551011/KorService2", base_path)
    session = open_session(make_settings(tmp_path, keys, base_url), clock)
    with pytest.raises(ServiceConfigError) as raised:
        await run_calls(session, 1)
    assert exit_code(raised.value) == 2 and "KTO_API_BASE_URL" in said(raised.value)
    assert gw.total() == 1
    assert deactivated(session) == []


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(WrongUrl.UNEXPECTED_ERRORS, id="unexpected-errors"),
        pytest.param(WrongUrl.API_NOT_FOUND, id="api-not-found"),
        pytest.param(WrongUrl.HTTP_404, id="http-404"),
    ],
)
async def test_a_wrong_url_after_successes_stops_once_every_key_got_it(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock, answer: WrongUrl
) -> None:
    """Two calls succeed, then the path answers as a wrong URL: one call per key (3), then exit 2
    naming KTO_API_BASE_URL; no key blamed, none with an error."""
    keys = [hex_key() for _ in range(3)]
    gw = gateway(
        {key: KeyBehaviour(f"k{i}") for i, key in enumerate(keys)},
        wrong_url_after=2,
        wrong_url_answer=answer,
    )
    session = open_session(make_settings(tmp_path, keys, gw.base_url), clock)
    with pytest.raises(ServiceConfigError) as raised:
        await asyncio.wait_for(run_calls(session, 10), GUARD_S)
    assert exit_code(raised.value) == 2 and "KTO_API_BASE_URL" in said(raised.value)
    assert gw.total() == 2 + 3
    assert [calls[LIST] for calls in gw.counts().values()] in ([2, 2, 1], [1, 2, 2], [2, 1, 2])
    assert deactivated(session) == []
    reopened = open_session(session.settings, clock)
    for key in reopened.pool.keys:
        state = reopened.pool.state(key)
        assert (state.total_errors, state.consecutive_errors, state.last_error) == (0, 0, None)


async def test_an_operation_gone_mid_run_stops_the_run_after_one_call_per_key(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """detailIntro2 answers once, then `API not found` for every key while the list works: one
    detail call per key that may take it (3: the 4th cools after code 22), then exit 2. (Calls
    already in flight on a key when the first such answer comes back are made too: see
    tests/jobs/test_details.py for a run of several at once.)"""
    keys = [hex_key() for _ in range(4)]
    gw = gateway(
        {key: KeyBehaviour(f"k{i}", daily_limit=None if i else 0) for i, key in enumerate(keys)},
        wrong_url_after=1,
        wrong_url_operations=(INTRO,),
        wrong_url_answer=WrongUrl.API_NOT_FOUND,
    )
    session = open_session(make_settings(tmp_path, keys, gw.base_url), clock)
    with session.keeping_history():
        async with session.client(1) as client:
            await client.call(INTRO, DETAIL)  # k0: 22 (its quota is spent), k1: the answer
            await client.call(LIST, PAGE)
            with pytest.raises(ServiceConfigError) as raised:
                await asyncio.wait_for(
                    asyncio.gather(*(client.call(INTRO, DETAIL) for _ in range(8))), GUARD_S
                )
            await client.call(LIST, PAGE)
    assert exit_code(raised.value) == 2 and "API not found" in said(raised.value)
    outcomes = [(call.label, call.outcome) for call in gw.history() if call.operation == INTRO]
    assert outcomes[:2] == [("k0", "22"), ("k1", "ok")]
    assert sorted(outcomes[2:]) == [(f"k{i}", "unknown_operation") for i in (1, 2, 3)]
    listed = [call.outcome for call in gw.history() if call.operation == LIST]
    assert listed.count("ok") == 2  # the list works before and after
    assert deactivated(session) == []


async def test_a_success_between_wrong_url_answers_gives_every_key_its_turn_again(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """A flaky path: a key that got a wrong-URL answer waits only until the operation answers
    again; then it takes calls as before, and the work is done."""
    keys = [hex_key(), hex_key()]
    gw = gateway(
        {
            keys[0]: KeyBehaviour(
                "flaky", BehaviourKind.FLAKY, failure_share=0.5, faults=(OptInFault.HTTP_404,)
            ),
            keys[1]: KeyBehaviour("good"),
        }
    )
    session = open_session(make_settings(tmp_path, keys, gw.base_url), clock)
    results = await asyncio.wait_for(run_calls(session, 20), GUARD_S)
    assert len(results) == 20
    assert gw.counts()["flaky"][LIST] >= 10  # back in turn after each success of the other key
    assert deactivated(session) == []


async def test_api_not_found_is_a_configuration_error(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """An unknown operation answered `API not found`: exit 2 after one call."""
    key = hex_key()
    gw = gateway({key: KeyBehaviour("k")}, unknown_operation=UnknownOperation.API_NOT_FOUND)
    session = open_session(make_settings(tmp_path, [key], gw.base_url), clock)
    with pytest.raises(ServiceConfigError):
        await run_calls(session, 1, operation="noSuchOperation2")
    assert gw.total() == 1 and deactivated(session) == []


async def test_a_locked_key_pauses_longer_while_the_others_carry_the_work(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """2 calls a second per key, a 60 s lock past it: each lock costs a few 23s (after 5, 15,
    45 s), not one a second. Pacing under the limit is another matter (per-key rate, later)."""
    keys = [hex_key() for _ in range(3)]
    gw = gateway(
        {key: KeyBehaviour(f"k{i}") for i, key in enumerate(keys)},
        per_second_limit=2,
        per_second_lock_s=60,
    )
    session = open_session(make_settings(tmp_path, keys, gw.base_url), clock)
    results = await run_calls(session, 30, INTRO, concurrency=4)
    assert len(results) == 30
    refusals = sum(gw.per_second_refusals().values())
    assert refusals <= 60  # was 723 for 30 calls on 3 keys, retried every second
    assert gw.total() <= 30 + refusals
    assert deactivated(session) == []


async def test_a_per_second_lock_answered_by_bare_429s_costs_no_key_its_day(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """The 60 s lock answered by 429s without a body instead of 23: the keys pause 5, 15, 45 s
    and work again after it; every call is served, and no key cools for an hour or goes out."""
    keys = [hex_key() for _ in range(3)]
    gw = gateway(
        {key: KeyBehaviour(f"k{i}") for i, key in enumerate(keys)},
        per_second_limit=2,
        per_second_lock_s=60,
        bare_per_second_429=True,
    )
    session = open_session(make_settings(tmp_path, keys, gw.base_url), clock)
    results = await run_calls(session, 30, INTRO, concurrency=4)
    assert len(results) == 30
    assert sum(gw.locks().values()) >= 3  # every key was locked, more than once
    refusals = sum(gw.per_second_refusals().values())
    assert refusals <= 60 and gw.total() == 30 + refusals
    assert {call.outcome for call in gw.history()} == {"ok", "23_bare"}
    assert deactivated(session) == []
    reopened = open_session(session.settings, clock)
    assert all(reopened.pool.state(key).cooldowns == {} for key in reopened.pool.keys)


async def test_a_429_with_an_unknown_code_is_read_as_a_bare_429(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """A key answering 429 with code 24 (not in the table) pauses, then cools for the operation
    at its 4th 429, 65 s after the first: 4 calls, no error counted, not taken out; the other
    key serves every call meanwhile."""
    odd, fine = hex_key(), hex_key()
    gw = gateway(
        {
            odd: KeyBehaviour(
                "odd",
                BehaviourKind.FLAKY,
                failure_share=1.0,
                faults=(OptInFault.UNKNOWN_CODE_429,),
            ),
            fine: KeyBehaviour("fine"),
        }
    )
    session = open_session(make_settings(tmp_path, [odd, fine], gw.base_url), clock)
    served = 0
    for _ in range(12):  # two calls every 10 s for two minutes
        served += len(await run_calls(session, 2, INTRO))
        clock.advance(10)
    assert served == 24
    assert gw.counts()["odd"] == {INTRO: 4}
    reopened = open_session(session.settings, clock)
    state = reopened.pool.state(reopened.pool.keys[0])
    assert not state.is_deactivated and state.consecutive_errors == 0
    assert state.last_error is not None and state.last_error.code == "24"
    cooling = reopened.pool.availability(reopened.pool.keys[0], INTRO, clock.now())
    assert cooling.reason == "cooling"


async def test_a_spent_quota_answered_by_a_bare_429_stops_after_four_calls_per_key(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """The gateway's quota of 3 ends in 429s without a body: 4 more calls per key over 65 s (a
    per-second lock would be over by then), then exit 4."""
    keys = [hex_key(), hex_key()]
    gw = gateway(
        {key: KeyBehaviour(f"k{i}", daily_limit=3) for i, key in enumerate(keys)},
        bare_daily_429=True,
    )
    session = open_session(make_settings(tmp_path, keys, gw.base_url), clock)
    with pytest.raises(NoUsableKeyError) as raised:
        await run_calls(session, 20, INTRO)
    assert exit_code(raised.value) == 4
    assert gw.total() == 2 * (3 + 4)  # the quota, then four 429s each before the cool-down
    assert deactivated(session) == []


async def test_a_drip_fed_answer_ends_at_the_request_deadline(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """A body sent a byte at a time never trips the read timeout; the total deadline ends it."""
    slow, good = hex_key(), hex_key()
    gw = gateway(
        {
            slow: KeyBehaviour(
                "slow", BehaviourKind.FLAKY, failure_share=1.0, faults=(OptInFault.DRIP,)
            ),
            good: KeyBehaviour("good"),
        },
        drip_interval_s=0.05,
    )
    settings = make_settings(tmp_path, [slow, good], gw.base_url, KTO_REQUEST_DEADLINE_S="0.5")
    session = open_session(settings, clock)
    results = await run_calls(session, 1)
    assert len(results) == 1
    state = session.pool.state(session.pool.keys[0])
    assert state.last_error is not None and "timed out" in state.last_error.message


async def test_a_huge_answer_is_cut_off_at_the_body_cap(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """A 20 MB answer against a 1 MB cap: a transient fault, never read whole."""
    big, good = hex_key(), hex_key()
    gw = gateway(
        {
            big: KeyBehaviour(
                "big", BehaviourKind.FLAKY, failure_share=1.0, faults=(OptInFault.HUGE,)
            ),
            good: KeyBehaviour("good"),
        },
        huge_body_bytes=20_000_000,
    )
    settings = make_settings(tmp_path, [big, good], gw.base_url, KTO_MAX_BODY_MB="1")
    session = open_session(settings, clock)
    results = await run_calls(session, 1)
    assert len(results) == 1
    state = session.pool.state(session.pool.keys[0])
    assert state.last_error is not None and "larger than 1" in state.last_error.message


async def test_a_gateway_wide_30_percent_error_rate_takes_out_no_key(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """The gateway fails 30 % of all calls, whatever the key: 600 details done, no key out."""
    keys = [hex_key() for _ in range(3)]
    gw = gateway(
        {key: KeyBehaviour(f"k{i}") for i, key in enumerate(keys)},
        error_rate=ErrorRate(share=0.3, seed=18),
    )
    session = open_session(make_settings(tmp_path, keys, gw.base_url), clock)
    results = await run_calls(session, 600, INTRO, concurrency=4)
    assert len(results) == 600 and deactivated(session) == []
    assert sum(gw.gateway_faults().values()) > 150
