"""Lambda SnapStart: what an environment restored from a snapshot must not keep.

With SnapStart (the template's ``SnapStart`` parameter; docs/DEPLOY.md, SnapStart), Lambda
runs a function's init once per published version, takes a snapshot of the initialised
environment, and starts later environments from that snapshot instead of running init
again. Whatever init built is then shared by every restored environment, and as old as the
snapshot: a client's sockets (dead by then), its connection pool, the settings read.

The hook registered here runs after each restore, before the environment's first request,
and makes the process build all of that anew: :func:`stateway.runtime.clear_caches` closes
the MongoDB and Redis clients and forgets every service and the settings. It also draws a
new health-check token, which :mod:`stateway.runtime` draws once at import, so that two
restored environments never probe the cache under the same key. Request ids are drawn per
request (:mod:`stateway.http`), never at init.

``snapshot_restore_py`` (PyPI ``snapshot-restore-py``) comes with Lambda's Python managed
runtimes, so it is deliberately not in layers/stateway/requirements.txt; the development
environment installs it (the ``dev`` extra of pyproject.toml). Where it cannot be imported
(outside Lambda), importing this module registers nothing and fails nothing.
"""

from __future__ import annotations

import logging
import uuid

from stateway import runtime
from stateway.config import clear_settings_cache

logger = logging.getLogger("stateway.snapstart")


def after_restore() -> None:
    """Drop every connection and client this process built; the next request builds its own."""
    try:
        runtime.clear_caches()
    except Exception:
        # A client whose sockets died with the snapshot may fail to close: forget it anyway.
        logger.warning("a client failed to close after the snapshot was restored; dropped", exc_info=True)
        with runtime._lock:
            runtime._built.clear()
        clear_settings_cache()
    runtime._HEALTH_TOKEN = uuid.uuid4().hex


def _register() -> bool:
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:
        return False
    register_after_restore(after_restore)
    return True


#: Whether :func:`after_restore` was registered with the runtime's hooks (at import).
REGISTERED = _register()
