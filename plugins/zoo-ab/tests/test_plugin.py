"""zoo-ab as zoo loads it, through the conformance kit: it has no components, so the plugin-level
check is its share of the kit (loads alone in strict mode, no clash, a light entry module)."""

from zoo.testing import check_plugin


def test_the_plugin_loads_alone_strictly_and_lightly():
    assert check_plugin("ab") == []  # commands and tables only: no components
