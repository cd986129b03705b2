"""Settings that let a function's app.py import without servers (its cold-start check passes).

The values point nowhere and nothing connects to them at import: tests that only read a
function's routes or declarations use them; tests that call a function give real servers.
"""

from __future__ import annotations

from stateway import config

#: One value for each need of ``config.REQUIRED_BY``.
IMPORT_ONLY = {
    config.REDIS_URL: "redis://127.0.0.1:9/0",
    config.MONGODB_URI: "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=100",
    config.SNAPSHOT_BUCKET: "stateway-import-only",
}
