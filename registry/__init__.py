"""The registry's storage: versions, aliases, lineage and artifacts in SQLite.

Installed as ``zoo_registry``. It stores rows and verified artifact files and imports
nothing from zoo but its error types: building models from versions and firing events is
``zoo.Registry``'s job. Importing this package stays light (no sqlite_utils, numpy or pandas).
"""

from zoo_registry.store import Store

__all__ = ["Store"]
