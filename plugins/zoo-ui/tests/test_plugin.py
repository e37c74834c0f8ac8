"""zoo-ui as zoo loads it, through the conformance kit: it adds one command and no components,
so the plugin-level check is its share of the kit (loads alone in strict mode, no clash, an
entry module that imports neither datasette nor uvicorn)."""

from zoo.testing import check_plugin


def test_the_plugin_loads_alone_strictly_and_lightly():
    assert check_plugin("ui", heavy=("datasette", "uvicorn", "vl_convert", "jinja2")) == []


def test_ui_help(run_zoo):
    proc = run_zoo("ui", "--help", check=True)
    assert "127.0.0.1" in proc.stdout and "--port" in proc.stdout
