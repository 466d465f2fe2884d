"""`#N` on the command line and in the programmatic API: one rule for naming a key by index."""

from __future__ import annotations

import pytest
from conftest import hex_key

from kto_keys.core.errors import SettingsError
from kto_keys.core.keys import ServiceKey
from kto_keys.jobs.keys import key_of


def test_an_index_must_name_a_configured_key() -> None:
    """`#N` must name a configured key: anything else is a settings error naming the range."""
    keys = [ServiceKey.from_raw(hex_key(), index, "environment") for index in range(2)]
    assert key_of(keys, 1) == keys[1]
    for wrong in (2, -1):
        with pytest.raises(SettingsError) as raised:
            key_of(keys, wrong)
        assert raised.value.details == {"value": wrong, "last": 1}
