"""A local stand-in for the public-data gateway and TourAPI, faults included, for tests and demos."""

from __future__ import annotations

from kto_keys.sim.behaviours import (
    ALL_FAULTS,
    TRANSIENT_FAULTS,
    AnyFault,
    BehaviourKind,
    ErrorRate,
    Fault,
    GatewayConfig,
    GatewayConfigError,
    Generation,
    KeyBehaviour,
    OptInFault,
    UnknownOperation,
    WrongUrl,
)
from kto_keys.sim.counters import CallRecord
from kto_keys.sim.dataset import Dataset, Restaurant
from kto_keys.sim.geography import DEFAULT_SIZES, PROVINCES, Province
from kto_keys.sim.harness import GatewayServer, GatewayThread, port_problem, run_gateway, serve
from kto_keys.sim.server import Gateway

__all__ = [
    "ALL_FAULTS",
    "DEFAULT_SIZES",
    "PROVINCES",
    "TRANSIENT_FAULTS",
    "AnyFault",
    "BehaviourKind",
    "CallRecord",
    "Dataset",
    "ErrorRate",
    "Fault",
    "Gateway",
    "GatewayConfig",
    "GatewayConfigError",
    "GatewayServer",
    "GatewayThread",
    "Generation",
    "KeyBehaviour",
    "OptInFault",
    "Province",
    "Restaurant",
    "UnknownOperation",
    "WrongUrl",
    "port_problem",
    "run_gateway",
    "serve",
]
