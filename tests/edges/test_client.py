"""The client against the local gateway over real HTTP: failover, policies, exact call counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import GatewayFactory, base64_key, encoded, exit_code, hex_key, make_settings, said

from kto_keys.core.clock import FakeClock
from kto_keys.core.codes import OutcomeKind
from kto_keys.core.errors import HostBlockedError, NoUsableKeyError, ServiceConfigError
from kto_keys.core.pool import DeactivationCause
from kto_keys.edges.client import TourClient
from kto_keys.jobs.session import open_session
from kto_keys.sim import BehaviourKind, Fault, Generation, KeyBehaviour, OptInFault

LIST = "areaBasedList2"
INTRO = "detailIntro2"
PAGE = {"contentTypeId": "39", "lDongRegnCd": "11", "numOfRows": 5, "pageNo": 1}
GENERATIONS = [
    pytest.param(Generation.LEGACY, id="legacy"),
    pytest.param(Generation.MODERN, id="modern"),
    pytest.param(Generation.MIXED, id="mixed"),
]


async def make_calls(
    tmp_path: Path,
    keys: list[str],
    base_url: str,
    clock: FakeClock,
    calls: int,
    operation: str = LIST,
    concurrency: int = 4,
    **overrides: str,
) -> TourClient:
    """Make `calls` calls of one operation through a fresh client, as one run."""
    import asyncio

    settings = make_settings(tmp_path, keys, base_url, **overrides)
    session = open_session(settings, clock)
    params = PAGE if operation == LIST else {"contentId": "2000001", "contentTypeId": "39"}
    with session.keeping_history():
        async with session.client(concurrency) as client:
            await asyncio.gather(*(client.call(operation, params) for _ in range(calls)))
    return client


@pytest.mark.parametrize("generation", GENERATIONS)
async def test_dead_keys_first_are_called_once_and_never_again(
    tmp_path: Path,
    gateway: GatewayFactory,
    clock: FakeClock,
    generation: Generation,
) -> None:
    """Unregistered, expired, not-approved and IP-restricted keys first: each costs one call, once."""
    dead = {
        hex_key(): KeyBehaviour("unregistered", BehaviourKind.NOT_REGISTERED),
        hex_key(): KeyBehaviour("expired", BehaviourKind.EXPIRED),
        hex_key(): KeyBehaviour("not-approved", BehaviourKind.NOT_APPROVED),
        hex_key(): KeyBehaviour("ip", BehaviourKind.IP_BLOCKED),
        hex_key(): KeyBehaviour("disabled", BehaviourKind.DISABLED),
    }
    good_b64 = base64_key()
    good = {
        good_b64: KeyBehaviour("good-b64"),
        hex_key(): KeyBehaviour("good-hex"),
        hex_key(): KeyBehaviour("limited", daily_limit=3),
        hex_key(): KeyBehaviour(
            "flaky",
            BehaviourKind.FLAKY,
            failure_share=0.5,
            faults=(Fault.HTTP_502, Fault.CODE_04, Fault.EMPTY),
        ),
    }
    gw = gateway({**dead, **good}, generation=generation, sizes={"11": 20})
    keys = [*dead, encoded(good_b64), *list(good)[1:]]
    await make_calls(tmp_path, keys, gw.base_url, clock, calls=40, concurrency=8)
    counts = gw.counts()
    for label in ("unregistered", "expired", "not-approved", "ip", "disabled"):
        assert counts[label] == {LIST: 1}, label
    # Its quota of 3, plus the calls already in flight when the first code 22 came back.
    assert 4 <= counts["limited"][LIST] <= 3 + 8
    gw.reset_counts()
    clock.advance(60)
    await make_calls(tmp_path, keys, gw.base_url, clock, calls=10)
    counts = gw.counts()
    assert not set(counts) & {
        "unregistered",
        "expired",
        "not-approved",
        "ip",
        "disabled",
        "limited",
    }
    assert sum(ops.get(LIST, 0) for ops in counts.values()) >= 10


async def test_every_request_is_served_in_spite_of_failures(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """Callers never see a bad key: 30 calls succeed while a flaky key fails half of its calls."""
    good, flaky = hex_key(), hex_key()
    gw = gateway(
        {
            good: KeyBehaviour("good"),
            flaky: KeyBehaviour(
                "flaky",
                BehaviourKind.FLAKY,
                failure_share=0.5,
                faults=(Fault.HTTP_500, Fault.TRUNCATED, Fault.ROUTING_TEXT, Fault.CODE_99),
            ),
        },
        sizes={"11": 10},
    )
    client = await make_calls(tmp_path, [flaky, good], gw.base_url, clock, calls=30)
    assert client.stats.outcomes[str(OutcomeKind.SUCCESS)] == 30
    assert gw.total(operation=LIST) == 30 + client.stats.outcomes[str(OutcomeKind.TRANSIENT)]


async def test_rate_limited_key_is_skipped_for_that_operation_until_its_cooldown_ends(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """Code 22 cools a key down for one operation; other operations still use it."""
    limited, other = hex_key(), hex_key()
    gw = gateway(
        {limited: KeyBehaviour("limited", daily_limit=2), other: KeyBehaviour("other")},
        sizes={"11": 10},
    )
    keys = [limited, other]
    await make_calls(tmp_path, keys, gw.base_url, clock, calls=10, concurrency=1)
    assert gw.counts()["limited"][LIST] == 3  # two within quota, one that met code 22
    gw.reset_counts()
    await make_calls(tmp_path, keys, gw.base_url, clock, calls=5, concurrency=1)
    assert "limited" not in gw.counts()  # still cooling down for areaBasedList2
    await make_calls(tmp_path, keys, gw.base_url, clock, calls=1, operation=INTRO, concurrency=1)
    assert gw.counts()["limited"] == {INTRO: 1}  # the other operation still uses it
    gw.reset_counts()
    clock.advance(3601)
    await make_calls(tmp_path, keys, gw.base_url, clock, calls=4, concurrency=1)
    assert gw.counts()["limited"][LIST] == 1  # after the cool-down, one call tests it again


async def test_per_second_limit_slows_the_run_without_taking_keys_out(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """Code 23 backs off and retries; no key is deactivated or blamed."""
    key = hex_key()
    gw = gateway(
        {key: KeyBehaviour("fast", BehaviourKind.PER_SECOND, max_per_second=2)}, sizes={"11": 10}
    )
    client = await make_calls(tmp_path, [key], gw.base_url, clock, calls=8, concurrency=4)
    assert client.stats.outcomes[str(OutcomeKind.SUCCESS)] == 8
    assert client.stats.outcomes[str(OutcomeKind.RATE_LIMIT)] >= 1
    assert clock.slept  # it backed off
    state = client.pool.state(client.pool.keys[0])
    assert state.deactivated_at is None and state.total_errors == 0


@pytest.mark.parametrize("generation", GENERATIONS)
async def test_blocked_host_stops_the_run_without_blaming_keys(
    tmp_path: Path,
    gateway: GatewayFactory,
    clock: FakeClock,
    generation: Generation,
) -> None:
    """Code 29 raises HostBlockedError after one call; no key gets an error."""
    keys = [hex_key(), hex_key()]
    gw = gateway(
        {k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)},
        host_blocked=True,
        generation=generation,
    )
    with pytest.raises(HostBlockedError) as raised:
        await make_calls(tmp_path, keys, gw.base_url, clock, calls=1, concurrency=1)
    assert "29" in said(raised.value)
    assert gw.total() == 1
    session = open_session(make_settings(tmp_path, keys, gw.base_url), clock)
    assert all(session.pool.state(k).total_errors == 0 for k in session.pool.keys)


async def test_default_user_agent_refused_everywhere_means_the_host_not_the_keys(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """Every key refused with a bare 403 stops the run (exit 5) and deactivates nothing."""
    keys = [hex_key(), hex_key(), hex_key()]
    gw = gateway(
        {k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)}, refuse_default_user_agents=True
    )
    settings = make_settings(tmp_path, keys, gw.base_url)
    session = open_session(settings, clock)
    with pytest.raises(HostBlockedError) as raised:
        async with session.client(4, user_agent="Python/3.11 aiohttp/3") as client:
            await client.call(LIST, PAGE)
    assert exit_code(raised.value) == 5
    assert gw.total() == 3
    assert all(not session.pool.state(k).is_deactivated for k in session.pool.keys)


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(OptInFault.BARE_401, id="bare-401"),
        pytest.param(OptInFault.BARE_403, id="bare-403"),
        pytest.param(OptInFault.TEXT_401, id="unauthorized-text"),
        pytest.param(OptInFault.TEXT_403, id="forbidden-text"),
    ],
)
async def test_a_key_refused_without_a_code_waits_but_is_never_taken_out(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock, fault: OptInFault
) -> None:
    """A bare 401/403 on one key while the other works: the doc calls it a passing error of that
    key. Seven of them in a row (past the error wait each time) leave it in, with 0 errors in a
    row; between them it waits the 10 min error wait."""
    refused, good = hex_key(), hex_key()
    gw = gateway(
        {
            refused: KeyBehaviour(
                "refused", BehaviourKind.FLAKY, failure_share=1.0, faults=(fault,)
            ),
            good: KeyBehaviour("good"),
        },
        sizes={"11": 3},
    )
    for _ in range(7):
        await make_calls(tmp_path, [refused, good], gw.base_url, clock, calls=1, concurrency=1)
        clock.advance(601)  # past the error wait, so the refused key is picked first again
    await make_calls(tmp_path, [refused, good], gw.base_url, clock, calls=2, concurrency=1)
    assert gw.counts()["refused"][LIST] == 8  # once more: the 8th call of the run went to it
    session = open_session(make_settings(tmp_path, [refused, good], gw.base_url), clock)
    state = session.pool.state(session.pool.keys[0])
    assert not state.is_deactivated
    assert (state.consecutive_errors, state.total_errors) == (0, 8)
    assert session.pool.availability(session.pool.keys[0], LIST, clock.now()).reason == "error_wait"


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(OptInFault.BARE_403, id="bare-403"),
        pytest.param(OptInFault.TEXT_401, id="unauthorized-text"),
    ],
)
async def test_every_key_refused_without_a_code_still_stops_the_run_as_the_hosts_fault(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock, fault: OptInFault
) -> None:
    """The same refusal on every key: exit 5 (host or User-Agent) after one call per key."""
    keys = [hex_key(), hex_key(), hex_key()]
    gw = gateway(
        {
            k: KeyBehaviour(f"k{i}", BehaviourKind.FLAKY, failure_share=1.0, faults=(fault,))
            for i, k in enumerate(keys)
        }
    )
    with pytest.raises(HostBlockedError) as raised:
        await make_calls(tmp_path, keys, gw.base_url, clock, calls=1, concurrency=1)
    assert exit_code(raised.value) == 5
    assert gw.total() == 3
    session = open_session(make_settings(tmp_path, keys, gw.base_url), clock)
    assert all(not session.pool.state(k).is_deactivated for k in session.pool.keys)


async def test_own_user_agent_is_sent(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """The gateway that refuses library User-Agents accepts kto-keys/<version>."""
    key = hex_key()
    gw = gateway({key: KeyBehaviour("k")}, refuse_default_user_agents=True, sizes={"11": 3})
    client = await make_calls(tmp_path, [key], gw.base_url, clock, calls=2)
    assert client.stats.outcomes[str(OutcomeKind.SUCCESS)] == 2


async def test_retired_service_url_is_a_configuration_error(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """KorService1 answers code 12: the run stops as misconfigured and the key is not blamed."""
    key = hex_key()
    gw = gateway({key: KeyBehaviour("k")})
    retired = gw.base_url.replace("KorService2", "KorService1")
    with pytest.raises(ServiceConfigError) as raised:
        await make_calls(tmp_path, [key], retired, clock, calls=1)
    assert exit_code(raised.value) == 2 and "KTO_API_BASE_URL" in said(raised.value)
    session = open_session(make_settings(tmp_path, [key], retired), clock)
    assert session.pool.state(session.pool.keys[0]).total_errors == 0


async def test_fifth_consecutive_transient_error_deactivates_a_key(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """A key failing every call is out after its 5th consecutive error, though the other key
    succeeds: the good key serves all and stays in."""
    bad, good = hex_key(), hex_key()
    gw = gateway(
        {
            bad: KeyBehaviour(
                "bad", BehaviourKind.FLAKY, failure_share=1.0, faults=(Fault.HTTP_503,)
            ),
            good: KeyBehaviour("good"),
        },
        sizes={"11": 3},
    )
    for _ in range(7):
        await make_calls(tmp_path, [bad, good], gw.base_url, clock, calls=1, concurrency=1)
        clock.advance(601)  # past the error wait, so the bad key is picked first again
    assert gw.counts()["bad"][LIST] == 5
    session = open_session(make_settings(tmp_path, [bad, good], gw.base_url), clock)
    state = session.pool.state(session.pool.keys[0])
    assert state.deactivated_at is not None
    assert state.deactivation_cause is DeactivationCause.TOO_MANY_ERRORS
    assert state.consecutive_errors == 5
    assert not session.pool.state(session.pool.keys[1]).is_deactivated


async def test_no_usable_key_names_the_soonest_one(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """With the only key spent, the error says which key is usable soonest and when."""
    key = hex_key()
    gw = gateway({key: KeyBehaviour("k")}, sizes={"11": 3})
    with pytest.raises(NoUsableKeyError) as raised:
        await make_calls(
            tmp_path,
            [key],
            gw.base_url,
            clock,
            calls=3,
            concurrency=1,
            KTO_API_DAILY_LIMIT="2",
        )
    assert exit_code(raised.value) == 4
    # A spent quota comes back at midnight: the advice says so, and no probe is suggested.
    assert "quota for areaBasedList2 is used up" in said(raised.value)
    assert "KST" in said(raised.value) and "recover" not in said(raised.value)
    assert gw.total() == 2  # the tool's own count stopped it before the gateway's code 22


async def test_recover_brings_back_a_working_key_and_leaves_out_a_failing_one(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """A not-yet-activated key returns once it works; one refused for its IP (32) stays out."""
    new, expired, good = hex_key(), hex_key(), hex_key()
    gw = gateway(
        {
            new: KeyBehaviour("new", BehaviourKind.ACTIVATING, activate_after_s=900),
            expired: KeyBehaviour("expired", BehaviourKind.IP_BLOCKED),
            good: KeyBehaviour("good"),
        },
        sizes={"11": 3},
    )
    keys = [new, expired, good]
    await make_calls(tmp_path, keys, gw.base_url, clock, calls=3, concurrency=1)
    session = open_session(make_settings(tmp_path, keys, gw.base_url), clock)
    new_state = session.pool.state(session.pool.keys[0])
    assert new_state.deactivation_cause is DeactivationCause.NOT_ACTIVATED_YET
    gw.reset_counts()
    clock.advance(1801)  # past the recovery time and the activation delay
    session = open_session(make_settings(tmp_path, keys, gw.base_url), clock)
    async with session.client(4) as client:
        results = await client.recover()
    assert {(r.key.index, r.recovered) for r in results} == {(0, True), (1, False)}
    assert gw.counts() == {"new": {"ldongCode2": 1}, "expired": {"ldongCode2": 1}}
    expired_state = session.pool.state(session.pool.keys[1])
    assert expired_state.deactivated_at == clock.now()


async def test_gateway_wide_fault_backs_off_without_deactivating_keys(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """When every key fails at once the client backs off; nobody is deactivated for it."""
    keys = [hex_key(), hex_key()]
    gw = gateway(
        {
            k: KeyBehaviour(
                f"k{i}", BehaviourKind.FLAKY, failure_share=0.75, faults=(Fault.HTTP_502,)
            )
            for i, k in enumerate(keys)
        },
        sizes={"11": 3},
    )
    client = await make_calls(tmp_path, keys, gw.base_url, clock, calls=4, concurrency=1)
    assert client.stats.outcomes[str(OutcomeKind.SUCCESS)] == 4
    assert clock.slept
    assert all(not client.pool.state(k).is_deactivated for k in client.pool.keys)


@pytest.mark.parametrize(
    "form", [pytest.param("encoding", id="encoding"), pytest.param("decoding", id="decoding")]
)
async def test_base64_keys_work_in_both_portal_forms(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock, form: str
) -> None:
    """The key is sent percent-encoded exactly once, whichever form was pasted."""
    key = base64_key()
    gw = gateway({key: KeyBehaviour("b64")}, sizes={"11": 3})
    pasted = encoded(key) if form == "encoding" else f" {key}\n"
    client = await make_calls(tmp_path, [pasted], gw.base_url, clock, calls=2)
    assert client.stats.outcomes[str(OutcomeKind.SUCCESS)] == 2
    assert gw.counts() == {"b64": {LIST: 2}}


async def test_no_key_appears_in_logs_cache_database_or_errors(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """Neither the raw nor the encoded form of any key, nor more than its preview, is written."""
    from kto_keys.edges.logbook import setup_logging

    good, dead = base64_key(), base64_key()
    gw = gateway(
        {good: KeyBehaviour("good"), dead: KeyBehaviour("dead", BehaviourKind.EXPIRED)},
        sizes={"11": 3},
    )
    keys = [encoded(dead), good]
    setup_logging(tmp_path / "logs", [], clock.now())
    await make_calls(tmp_path, keys, gw.base_url, clock, calls=3)
    with pytest.raises(NoUsableKeyError) as raised:
        await make_calls(tmp_path, keys, gw.base_url, clock, calls=1, KTO_API_DAILY_LIMIT="1")
    texts = [said(raised.value)]
    texts += [p.read_bytes().decode("utf-8", "replace") for p in tmp_path.rglob("*") if p.is_file()]
    for key in (good, dead):
        for form in (key, encoded(key), key[:11], encoded(key)[:11]):
            assert not any(form in text for text in texts), form


async def test_a_lone_key_is_retried_with_back_off_not_back_to_back(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """With one key failing transiently, each retry waits longer; a short blip is survived."""
    key = hex_key()
    gw = gateway(
        {key: KeyBehaviour("k", BehaviourKind.FLAKY, failure_share=0.5, faults=(Fault.HTTP_502,))},
        sizes={"11": 3},
    )
    client = await make_calls(tmp_path, [key], gw.base_url, clock, calls=4, concurrency=1)
    assert client.stats.outcomes[str(OutcomeKind.SUCCESS)] == 4
    assert clock.slept and all(seconds >= 1 for seconds in clock.slept)
    assert not client.pool.state(client.pool.keys[0]).is_deactivated
