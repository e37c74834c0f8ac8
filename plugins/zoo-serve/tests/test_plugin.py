"""zoo-serve as zoo loads it, through the conformance kit: no components, so the plugin-level
check (loads alone in strict mode, no clash, a light entry module) is its share of the kit."""

from zoo.testing import check_plugin


def test_the_plugin_loads_alone_strictly_and_lightly():
    assert check_plugin("serve") == []
