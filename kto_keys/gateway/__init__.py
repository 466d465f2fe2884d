"""A local stand-in for the public-data gateway and TourAPI, faults included, for tests and demos."""

from __future__ import annotations

from kto_keys.gateway.behaviours import (
    ALL_FAULTS,
    BehaviourKind,
    Fault,
    GatewayConfig,
    GatewayConfigError,
    Generation,
    KeyBehaviour,
)
from kto_keys.gateway.counters import CallRecord
from kto_keys.gateway.dataset import Dataset, Restaurant
from kto_keys.gateway.geography import DEFAULT_SIZES, PROVINCES, Province
from kto_keys.gateway.harness import GatewayServer, GatewayThread, run_gateway, serve
from kto_keys.gateway.server import Gateway

__all__ = [
    "ALL_FAULTS",
    "DEFAULT_SIZES",
    "PROVINCES",
    "BehaviourKind",
    "CallRecord",
    "Dataset",
    "Fault",
    "Gateway",
    "GatewayConfig",
    "GatewayConfigError",
    "GatewayServer",
    "GatewayThread",
    "Generation",
    "KeyBehaviour",
    "Province",
    "Restaurant",
    "run_gateway",
    "serve",
]
