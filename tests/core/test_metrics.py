"""The Prometheus text format, read back by prometheus_client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from kto_keys.core.metrics import Family, render


def test_families_render_as_gauges_that_prometheus_client_parses() -> None:
    """HELP and TYPE lines, labels escaped (quotes, backslashes, line breaks), numbers exact."""
    state = Family("key_state", 'The key\'s state "now"\nin one line.')
    state.add(1, {"index": "0", "preview": 'ab"c\\d\n...', "state": "active"})
    last = Family("last_run_timestamp_seconds", "When the command last ended.")
    last.add(1_795_000_000.25, {"command": "collect"})
    plain = Family("keys_total", "Keys configured.")
    plain.add(3)
    text = render([state, last, plain])
    assert "# TYPE kto_keys_keys_total gauge\nkto_keys_keys_total 3\n" in text
    parsed = {family.name: family for family in text_string_to_metric_families(text)}
    assert parsed["kto_keys_key_state"].type == "gauge"
    [sample] = parsed["kto_keys_key_state"].samples
    assert sample.labels == {"index": "0", "preview": 'ab"c\\d\n...', "state": "active"}
    assert parsed["kto_keys_last_run_timestamp_seconds"].samples[0].value == 1_795_000_000.25
    assert parsed["kto_keys_keys_total"].samples[0].value == 3
