"""The local-first model registry: versions, aliases, lineage and artifacts in SQLite.

Importing this package stays light (no sqlite_utils, numpy or pandas): the CLI imports
it on every command that touches the registry.
"""

from registry.store import Registry

__all__ = ["Registry"]
