"""The store's indexes, created at deploy time: the stack's custom resource, or by hand.

No function creates an index: a cold start would wait for the build, and the
functions' database user would need the privilege. The indexes are
:data:`stateway.tiers.mongo_store.INDEXES`; :func:`migrate` creates those that
are missing, with the settings and the client the functions use
(:func:`stateway.config.get_settings`, :func:`stateway.runtime.connect_mongo`,
so ``MONGODB_URI`` or ``STATEWAY_MONGODB_URI_SOURCE`` and ``STATEWAY_MONGODB_DB``).
Running it again changes nothing.

By hand, with the environment a function gets::

    python -m stateway.migrate [--timeout SECONDS]

prints each index per collection and what was done with it, and exits 0; 2 when a
setting is missing or malformed (the message names it); 1 when the store cannot be
reached in time or refuses.

In the stack, :func:`handler` serves the ``Custom::StatewayMigration`` resource:
Create and Update migrate, Delete leaves the store as it is (the indexes stay with
the data). Every request is answered, by a PUT of CloudFormation's response
document to the request's ``ResponseURL``, before the function's own time runs
out: a migration still running then is answered FAILED. A reason never holds the
URI, a secret or a library's message, only Stateway's own text.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stateway import runtime
from stateway.config import Settings, get_settings
from stateway.errors import BackendBug, ConfigError, MigrationTimedOut, StatewayError
from stateway.tiers.mongo_store import INDEXES, Index, MongoStore

logger = logging.getLogger("stateway.migrate")

#: How long one index build may take when run by hand (``--timeout``).
DEFAULT_TIMEOUT_S = 600.0
#: What the handler keeps of the function's time to answer CloudFormation after a
#: migration that did not finish.
RESPONSE_MARGIN_S = 10.0
#: The shortest time the handler gives a migration.
MIN_BUDGET_S = 1.0
RESPONSE_TIMEOUT_S = 10.0
RESPONSE_ATTEMPTS = 3
#: CloudFormation refuses a response document of more than 4096 bytes.
MAX_REASON_CHARS = 1000
PHYSICAL_RESOURCE_ID = "stateway-indexes"

EXIT_OK = 0
EXIT_STORE = 1
EXIT_CONFIG = 2


@dataclass(frozen=True, slots=True)
class Migration:
    """What a run did: the indexes it created, and those that were there already."""

    database: str
    created: tuple[Index, ...]
    present: tuple[Index, ...]

    def lines(self) -> list[str]:
        """One line per index, by collection, saying whether this run created it."""
        created = set(self.created)
        lines = [f"database {self.database}:"]
        for index in sorted((*self.created, *self.present), key=lambda i: (i.collection, i.name)):
            done = "created" if index in created else "already there"
            lines.append(f"  {index.collection}: {index.name} ({done})")
        return lines

    def data(self) -> dict[str, str]:
        """The custom resource's attributes (``Fn::GetAtt Migration.Indexes``, ...)."""

        def names(indexes: tuple[Index, ...]) -> str:
            return ",".join(sorted(f"{i.collection}.{i.name}" for i in indexes))

        return {
            "Database": self.database,
            "Indexes": names((*self.created, *self.present)),
            "Created": names(self.created),
        }


def migrate_database(db: Any) -> Migration:
    """Create the missing indexes in ``db`` (a pymongo database). Raises StoreUnavailable, StoreBug."""
    store = MongoStore(db)
    collections = sorted({index.collection for index in INDEXES})
    before = {collection: set(store.index_names(collection)) for collection in collections}
    ensured = store.ensure_indexes()
    created = tuple(index for index in ensured if index.name not in before[index.collection])
    present = tuple(index for index in ensured if index.name in before[index.collection])
    return Migration(str(db.name), created, present)


def migrate(settings: Settings | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> Migration:
    """Create the store's missing indexes with the functions' settings (``get_settings()`` by default).

    ``timeout_s`` bounds each command (an index build on a large collection takes a
    while); reaching the store keeps ``STATEWAY_MONGODB_TIMEOUT_MS``. Raises
    ConfigError (a setting), StoreUnavailable (the store cannot be reached, or its
    name resolved), StoreBug (the store refused, e.g. an index of the same name with
    other keys).
    """
    settings = settings or get_settings()
    client = runtime.connect_mongo(settings, socket_timeout_ms=max(1, int(timeout_s * 1000)))
    try:
        return migrate_database(client[settings.mongodb_db])
    finally:
        client.close()


def describe(exc: StatewayError) -> str:
    """Stateway's own message, with the server's error name when the store refused (never its text)."""
    cause = exc.__cause__
    details = getattr(cause, "details", None)
    name = details.get("codeName") if isinstance(details, Mapping) else None
    return f"{exc.message} ({name})" if isinstance(name, str) and name else exc.message


# --- by hand ------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stateway.migrate",
        description="Create the indexes of the Stateway store named by the environment (idempotent).",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"longest time one index build may take (default {DEFAULT_TIMEOUT_S:.0f})",
    )
    args = parser.parse_args(argv)
    try:
        result = migrate(timeout_s=args.timeout)
    except ConfigError as exc:
        print(f"stateway.migrate: {exc.message}", file=sys.stderr)
        return EXIT_CONFIG
    except StatewayError as exc:
        print(f"stateway.migrate: {describe(exc)} Nothing else was changed.", file=sys.stderr)
        return EXIT_STORE
    for line in result.lines():
        print(line)
    return EXIT_OK


# --- the custom resource ------------------------------------------------------------


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The ``Custom::StatewayMigration`` resource: migrate on Create and Update, nothing on Delete.

    Always answers CloudFormation (SUCCESS or FAILED) and returns the document it
    sent. Raises only when the answer itself could not be delivered, so that Lambda
    invokes the function again (the migration is idempotent).
    """
    kind = event.get("RequestType")
    status, reason, data = "SUCCESS", "", {}
    try:
        if kind in ("Create", "Update"):
            result = _within(_budget(context), migrate)
            data = result.data()
            reason = (
                f"Indexes of {result.database}: {data['Indexes']} (created: {data['Created'] or 'none'})."
            )
            logger.info("migration done: %s", "; ".join(result.lines()))
        elif kind == "Delete":
            reason = "Nothing to do on delete: the indexes stay with the data."
        else:
            status, reason = "FAILED", "The request type is not Create, Update or Delete."
    except BackendBug as exc:
        logger.error("migration refused by the store", exc_info=True)
        status, reason = "FAILED", describe(exc)
    except StatewayError as exc:
        logger.warning("migration failed: %s", describe(exc), exc_info=True)
        status, reason = "FAILED", describe(exc)
    except Exception as exc:
        logger.error("migration failed with a bug", exc_info=True)
        status, reason = "FAILED", f"The migration failed ({type(exc).__name__})."
    if status == "FAILED":
        stream = getattr(context, "log_stream_name", None)
        if isinstance(stream, str) and stream:
            reason = f"{reason} See log stream {stream}."
    document = {
        "Status": status,
        "Reason": reason[:MAX_REASON_CHARS],
        "PhysicalResourceId": event.get("PhysicalResourceId") or PHYSICAL_RESOURCE_ID,
        "StackId": event.get("StackId"),
        "RequestId": event.get("RequestId"),
        "LogicalResourceId": event.get("LogicalResourceId"),
        "Data": data,
    }
    _respond(event.get("ResponseURL"), document)
    return document


def _budget(context: Any) -> float:
    """The seconds a migration may take: the function's remaining time, less the time to answer."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return DEFAULT_TIMEOUT_S
    return max(MIN_BUDGET_S, float(remaining()) / 1000 - RESPONSE_MARGIN_S)


def _within(seconds: float, work: Any) -> Migration:
    """``work(timeout_s=seconds)`` in a thread of its own, given up after ``seconds``.

    Each command of the migration is bounded by the same time; the thread bounds
    what is not a command (resolving the URI, connecting). A migration given up on
    may go on in the store (an index build does): the next run finds its index.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = work(timeout_s=seconds)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="stateway-migration", daemon=True)
    thread.start()
    thread.join(seconds)
    if "error" in outcome:
        raise outcome["error"]
    if "result" not in outcome:
        raise MigrationTimedOut(
            f"The migration did not finish within {seconds:.0f} s; an index build may still be"
            " running in the store. Deploy again once it has finished."
        )
    result: Migration = outcome["result"]
    return result


def _respond(url: Any, document: Mapping[str, Any]) -> None:
    """PUT the response document to CloudFormation's presigned URL (tried a few times)."""
    if not isinstance(url, str) or not url:
        logger.warning("no ResponseURL in the request: the answer is only returned")
        return
    body = json.dumps(document).encode()
    # The presigned URL signs no content type: send none (an empty header), as AWS's
    # cfn-response module does.
    headers = {"Content-Type": "", "Content-Length": str(len(body))}
    for attempt in range(1, RESPONSE_ATTEMPTS + 1):
        request = urllib.request.Request(url, data=body, method="PUT", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=RESPONSE_TIMEOUT_S) as response:
                response.read()
            return
        except OSError:
            if attempt == RESPONSE_ATTEMPTS:
                logger.error("the answer to CloudFormation could not be delivered", exc_info=True)
                raise
            time.sleep(attempt)


if __name__ == "__main__":
    sys.exit(main())
