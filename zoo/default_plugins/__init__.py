"""Built-in plugins: features shipped with zoo and loaded exactly like installed plugins.

Each module (or package) here is one plugin, named in ``zoo.plugins.DEFAULT_PLUGINS``. It
imports only zoo's public API, is listed by ``zoo plugins --all`` and can be switched off
with ``ZOO_DISABLE_PLUGINS=NAME``.
"""
