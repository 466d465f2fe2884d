"""The demo: a local gateway with a few fake keys of every kind, and settings kept apart."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from urllib.parse import quote

from kto_keys.edges.settings import Settings, settings_in
from kto_keys.sim import BehaviourKind, Fault, GatewayConfig, KeyBehaviour

DEMO_DIR = Path("data/demo")
# Every fault except the slow one, so that a demo never sits out a read timeout.
DEMO_FAULTS = tuple(fault for fault in Fault if fault is not Fault.SLOW)


def demo_key(name: str, base64_form: bool = False) -> str:
    """A fake key derived from a name: the same every run, never a real one."""
    digest = hashlib.sha512(f"kto-keys demo key {name}".encode()).digest()
    if base64_form:
        return base64.b64encode(digest).decode()
    return digest.hex()[:64]


def demo_keys() -> dict[str, KeyBehaviour]:
    """Three good keys, one unregistered, one with a tiny quota, one flaky."""
    return {
        demo_key("good-1"): KeyBehaviour("good-1", BehaviourKind.VALID, daily_limit=1000),
        demo_key("good-2", base64_form=True): KeyBehaviour(
            "good-2", BehaviourKind.VALID, daily_limit=1000
        ),
        demo_key("good-3"): KeyBehaviour("good-3", BehaviourKind.VALID, daily_limit=1000),
        demo_key("unregistered"): KeyBehaviour("unregistered", BehaviourKind.NOT_REGISTERED),
        demo_key("small-quota"): KeyBehaviour("small-quota", BehaviourKind.VALID, daily_limit=25),
        demo_key("flaky"): KeyBehaviour(
            "flaky", BehaviourKind.FLAKY, failure_share=0.3, faults=DEMO_FAULTS
        ),
    }


# The major provinces at about a third of the default data: a demo paced like a real run
# (KTO_KEY_RPS per key) still ends in a few seconds.
DEMO_SIZES = {"11": 90, "26": 30, "41": 70, "50": 25}


def demo_gateway_config(latency_s: float = 0.0) -> GatewayConfig:
    """The local gateway of the demo: it locks a key for 60 s past 25 calls a second, as the real
    one does, so the demo shows the tool's pacing keeping clear of it."""
    return GatewayConfig(
        keys=demo_keys(),
        latency_s=latency_s,
        sizes=DEMO_SIZES,
        per_second_limit=25,
        per_second_lock_s=60.0,
    )


def demo_key_list() -> str:
    """KTO_API_KEY for the demo: the unregistered key first, the base64 key in its Encoding form."""
    keys = list(demo_keys())
    ordered = [keys[3], keys[0], quote(keys[1], safe=""), keys[2], keys[4], keys[5]]
    return ",".join(ordered)


def demo_settings(base_url: str, folder: Path = DEMO_DIR, lang: str | None = None) -> Settings:
    """Settings that point at the local gateway and keep the demo's files apart."""
    extra = {"KTO_LANG": lang} if lang else {}
    return settings_in(
        folder, demo_key_list().split(","), base_url, KTO_READ_TIMEOUT_S="5", **extra
    )
