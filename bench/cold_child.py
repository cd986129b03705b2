"""One cold start in a fresh process (run by ``bench.cold_start``, not imported).

``cold_child.py function <name> <config json>``: import ``functions/<name>/app.py``,
then serve one request with it (the first call builds clients and imports what
the operation needs lazily). ``cold_child.py floor <module,module,...>``: import
those modules. ``cold_child.py s3client``: build the layer's S3 client once. Prints one JSON line; writes ``bench: <phase>`` markers to
stderr so that ``-X importtime`` output can be split by phase.
"""

import importlib
import sys
import time

# Standard library only, and nothing the import system has not loaded: the harness loads as
# little as it can before the timed import.
from stateway_local.functions import load_app


def _mark(phase: str) -> None:
    sys.stderr.write(f"bench: {phase}\n")
    sys.stderr.flush()


def _loaded() -> dict[str, bool]:
    names = ("boto3", "botocore", "botocore.session", "pymongo", "redis", "chalice", "aws_lambda_powertools")
    return {name: name in sys.modules for name in names}


def floor(modules: str) -> dict[str, object]:
    _mark("import")
    started = time.perf_counter()
    for name in modules.split(","):
        importlib.import_module(name)
    return {"import_ms": (time.perf_counter() - started) * 1000}


def s3_client() -> dict[str, object]:
    """The layer's S3 client built once, its libraries already imported (untimed)."""
    import boto3  # noqa: F401
    import botocore.config  # noqa: F401

    from stateway.tiers.s3_snapshots import make_s3_client

    started = time.perf_counter()
    make_s3_client(timeout_ms=3000)
    return {"import_ms": (time.perf_counter() - started) * 1000}


def function(name: str, config_json: str) -> dict[str, object]:
    _mark("import")
    started = time.perf_counter()
    module = load_app(name)
    imported = time.perf_counter()
    after_import = _loaded()

    _mark("prepare")
    import json

    from stateway_local.events import LambdaContext, http_api_v1_event

    config = json.loads(config_json)
    event = http_api_v1_event(**_request(name, config))
    _mark("first call")
    called = time.perf_counter()
    response = module.app(event, LambdaContext())
    done = time.perf_counter()
    return {
        "import_ms": (imported - started) * 1000,
        "call_ms": (done - called) * 1000,
        "status": response["statusCode"],
        "after_import": after_import,
        "after_call": _loaded(),
    }


def _request(name: str, c: dict[str, str]) -> dict[str, object]:
    claims = {"sub": c["user_id"], "client_id": c["client_id"]}
    ids = {k: c[k] for k in ("client_id", "app_id", "project_id")}
    project = "/api/project-state/{client_id}/{app_id}/{project_id}"
    requests: dict[str, dict[str, object]] = {
        "health": {"method": "GET", "route": "/api/health"},
        "session_init": {
            "method": "POST",
            "route": "/api/session/init",
            "body": {**ids, "user_id": c["user_id"], "env": {"locale": "en"}},
        },
        "session_state": {
            "method": "GET",
            "route": "/api/session/state",
            "query": f"session_id={c['session_id']}",
        },
        "session_update": {
            "method": "PATCH",
            "route": "/api/session/update",
            "body": {"session_id": c["session_id"], "key": "theme", "value": "dark"},
        },
        "session_end": {
            "method": "DELETE",
            "route": "/api/session/end",
            "query": f"session_id={c['ended_id']}",
        },
        "session_list": {
            "method": "GET",
            "route": "/api/session/list",
            "query": f"client_id={c['client_id']}",
        },
        "project_save": {
            "method": "PUT",
            "route": project,
            "path_params": ids,
            "body": {"state": {"zoom": 3}},
        },
        "project_load": {"method": "GET", "route": project, "path_params": ids},
        "project_snapshots": {
            "method": "GET",
            "route": project + "/snapshots",
            "path_params": ids,
            "query": "limit=5",
        },
        "project_restore": {
            "method": "POST",
            "route": project + "/snapshots/{snapshot_id}/restore",
            "path_params": {**ids, "snapshot_id": c["snapshot_id"]},
        },
    }
    request = requests[name]
    if name != "health":
        request["claims"] = claims
    return request


if __name__ == "__main__":
    import json as _json

    kind = sys.argv[1]
    if kind == "floor":
        result = floor(sys.argv[2])
    elif kind == "s3client":
        result = s3_client()
    else:
        result = function(sys.argv[2], sys.argv[3])
    print(_json.dumps(result))
