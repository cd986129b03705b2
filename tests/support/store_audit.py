"""Hold the store layer to Amazon DocumentDB 5.0's documented operator lists.

There is no DocumentDB emulator, so the durable store's traffic is checked
against AWS's published support tables instead: ``tests/documentdb/documentdb-5.0.json``
holds them as data (every entry with the URL it comes from), and
:class:`OperatorRecorder` is a pymongo command listener that records every
command a client sends and every ``$`` operator in it, classified by where it
occurs. :func:`violations` turns what was recorded into readable lines for
everything DocumentDB 5.0 does not support, or that the data does not list.

Only dict *keys* that start with ``$`` are operators. ``"$state"`` or
``"$$ROOT"`` as a value is a field path or a variable, never an operator
(upper-case ``$$`` variables are recorded apart, as system variables). The
documents of an ``insert``, the values given to ``$set`` and the like, and
replacement documents are data and are never scanned.

Usage (``mongo_client`` and ``uri_with`` from :mod:`stateway_testing.clients`)::

    recorder = OperatorRecorder()
    client = mongo_client(uri_with(uri, retryWrites="false"), event_listeners=[recorder])
    ...  # drive the store
    assert violations(recorder, load_allowlist()) == []
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

ALLOWLIST_PATH = Path(__file__).resolve().parents[1] / "documentdb" / "documentdb-5.0.json"

# Commands a driver sends on its own (handshake, monitoring, authentication,
# session clean-up). They are recorded but not judged.
DRIVER_INTERNAL_COMMANDS: frozenset[str] = frozenset(
    {"hello", "ismaster", "endsessions", "saslstart", "saslcontinue", "ping", "buildinfo"}
)

# Where an operator occurred -> the section of the data file that judges it.
KIND_SECTIONS: dict[str, str] = {
    "command": "commands",
    "query": "query_operators",
    "projection": "projection_operators",
    "update": "update_operators",
    "update_modifier": "update_operators",
    "stage": "stages",
    "expression": "expression_operators",
    "system_variable": "system_variables",
    "cursor_option": "cursor_methods",
    "index_type": "indexes",
    "index_option": "index_properties",
    "feature": "features",
}

KIND_LABELS: dict[str, str] = {
    "command": "command",
    "query": "query operator",
    "projection": "projection operator",
    "update": "update operator",
    "update_modifier": "update modifier",
    "stage": "aggregation stage",
    "expression": "expression operator",
    "system_variable": "system variable",
    "cursor_option": "cursor option",
    "index_type": "index type",
    "index_option": "index property",
    "feature": "feature",
}

RETRYABLE_WRITES = "retryable writes"

# find-command fields and the cursor methods of AWS's table they stand for.
_FIND_CURSOR_OPTIONS: dict[str, str] = {
    "sort": "cursor.sort()",
    "skip": "cursor.skip()",
    "limit": "cursor.limit()",
    "batchSize": "cursor.batchSize()",
    "hint": "cursor.hint()",
    "comment": "cursor.comment()",
    "maxTimeMS": "cursor.maxTimeMS()",
    "min": "cursor.min()",
    "max": "cursor.max()",
    "returnKey": "cursor.returnKey()",
    "showRecordId": "cursor.showRecordId()",
    "tailable": "cursor.tailable()",
    "noCursorTimeout": "cursor.noCursorTimeout()",
    "collation": "cursor.collation()",
}

# createIndexes options and the index properties of AWS's table they stand for.
_INDEX_OPTIONS: dict[str, str] = {
    "background": "Background",
    "collation": "Case Insensitive",
    "hidden": "Hidden",
    "partialFilterExpression": "Partial",
    "sparse": "Sparse",
    "expireAfterSeconds": "TTL",
    "unique": "Unique",
    "vectorOptions": "Vector",
}

_INDEX_VALUE_TYPES: dict[str, str] = {
    "text": "Text Index",
    "2dsphere": "2dsphere",
    "2d": "2d Index",
    "hashed": "Hashed Index",
}

# Stages whose argument is an aggregation expression (or an object of them).
_EXPRESSION_STAGES: frozenset[str] = frozenset(
    {
        "$addFields",
        "$set",
        "$project",
        "$group",
        "$replaceRoot",
        "$replaceWith",
        "$redact",
        "$bucket",
        "$bucketAuto",
        "$sortByCount",
        "$setWindowFields",
        "$densify",
        "$fill",
    }
)

_GEO_QUERY_OPERATORS: frozenset[str] = frozenset({"$geoWithin", "$geoIntersects", "$near", "$nearSphere"})


@dataclass(frozen=True, slots=True)
class OperatorUse:
    """One ``$`` name found in a command.

    ``kind`` says where it occurred (a key of :data:`KIND_SECTIONS`), ``path``
    where in the command document, e.g. ``query.$expr.$lte[0].$bsonSize``.
    """

    kind: str
    name: str
    path: str


@dataclass(frozen=True, slots=True)
class RecordedCommand:
    """A command as a client sent it (a ``started`` event), reduced to what the audit needs."""

    name: str
    database: str
    request_id: int
    operators: tuple[OperatorUse, ...]
    txn_number: int | None
    driver_internal: bool

    @property
    def carries_txn_number(self) -> bool:
        """Whether the driver made this a retryable write attempt (it sent ``txnNumber``)."""
        return self.txn_number is not None


@dataclass(frozen=True, slots=True)
class FailedCommand:
    """A command the server answered with an error."""

    name: str
    request_id: int
    code: int | None
    message: str


def is_driver_internal(command_name: str) -> bool:
    """Whether a command is one the driver sends on its own (not judged by :func:`violations`)."""
    return command_name.lower() in DRIVER_INTERNAL_COMMANDS


class _Extractor:
    """Walks one command document and collects :class:`OperatorUse` records."""

    def __init__(self) -> None:
        self.uses: list[OperatorUse] = []

    def add(self, kind: str, name: str, path: str) -> None:
        self.uses.append(OperatorUse(kind, name, path))

    # commands ------------------------------------------------------------------

    def command(self, name: str, cmd: Mapping[str, Any], path: str = "") -> None:
        key = name.lower()
        at = f"{path}." if path else ""
        if key == "find":
            self.query_doc(cmd.get("filter"), f"{at}filter")
            self.projection(cmd.get("projection"), f"{at}projection")
            self.sort(cmd.get("sort"), f"{at}sort")
            self.sort(cmd.get("hint"), f"{at}hint")
            for option, method in _FIND_CURSOR_OPTIONS.items():
                if option in cmd:
                    self.add("cursor_option", method, f"{at}{option}")
            if "allowDiskUse" in cmd:
                self.add("feature", "find: allowDiskUse", f"{at}allowDiskUse")
        elif key == "findandmodify":
            self.query_doc(cmd.get("query"), f"{at}query")
            self.sort(cmd.get("sort"), f"{at}sort")
            self.projection(cmd.get("fields"), f"{at}fields")
            if "update" in cmd:
                self.update(cmd["update"], f"{at}update")
            self.array_filters(cmd.get("arrayFilters"), f"{at}arrayFilters")
            self.collation(cmd, at)
        elif key == "update":
            for i, statement in enumerate(_mappings(cmd.get("updates"))):
                here = f"{at}updates[{i}]"
                self.query_doc(statement.get("q"), f"{here}.q")
                if "u" in statement:
                    self.update(statement["u"], f"{here}.u")
                self.array_filters(statement.get("arrayFilters"), f"{here}.arrayFilters")
                self.collation(statement, f"{here}.")
        elif key == "delete":
            for i, statement in enumerate(_mappings(cmd.get("deletes"))):
                here = f"{at}deletes[{i}]"
                self.query_doc(statement.get("q"), f"{here}.q")
                self.collation(statement, f"{here}.")
        elif key == "aggregate":
            self.pipeline(cmd.get("pipeline"), f"{at}pipeline")
            self.collation(cmd, at)
        elif key in ("count", "distinct"):
            self.query_doc(cmd.get("query"), f"{at}query")
            self.collation(cmd, at)
        elif key == "createindexes":
            for i, spec in enumerate(_mappings(cmd.get("indexes"))):
                self.index(spec, f"{at}indexes[{i}]")
        elif key in ("listcollections", "listindexes", "listdatabases"):
            self.query_doc(cmd.get("filter"), f"{at}filter")
        elif key == "explain":
            inner = cmd.get("explain")
            if isinstance(inner, Mapping) and inner:
                inner_name = next(iter(inner))
                self.add("command", inner_name, f"{at}explain")
                self.command(inner_name, inner, f"{at}explain")
        # insert's documents, getMore, killCursors, drop, create ...: nothing to scan.

    def collation(self, holder: Mapping[str, Any], at: str) -> None:
        if "collation" in holder:
            self.add("cursor_option", "cursor.collation()", f"{at}collation")

    def array_filters(self, filters: Any, path: str) -> None:
        for i, flt in enumerate(_mappings(filters)):
            self.query_doc(flt, f"{path}[{i}]")

    def index(self, spec: Mapping[str, Any], path: str) -> None:
        key = spec.get("key")
        if isinstance(key, Mapping):
            kinds: list[str] = []
            for field, value in key.items():
                if isinstance(field, str) and "$**" in field:
                    kinds.append("Wildcard")
                elif isinstance(value, str) and value in _INDEX_VALUE_TYPES:
                    kinds.append(_INDEX_VALUE_TYPES[value])
            if not kinds:
                kinds.append("Compound Index" if len(key) > 1 else "Single Field Index")
            for kind in dict.fromkeys(kinds):
                self.add("index_type", kind, f"{path}.key")
        for option, prop in _INDEX_OPTIONS.items():
            if option in spec:
                self.add("index_option", prop, f"{path}.{option}")
        self.query_doc(spec.get("partialFilterExpression"), f"{path}.partialFilterExpression")

    # queries ---------------------------------------------------------------------

    def query_doc(self, doc: Any, path: str) -> None:
        """A filter: ``$`` keys are query operators, other keys are field paths."""
        if not isinstance(doc, Mapping):
            return
        for key, value in doc.items():
            if isinstance(key, str) and key.startswith("$"):
                self.query_operator(key, value, f"{path}.{key}")
            else:
                self.field_condition(value, f"{path}.{key}")

    def field_condition(self, value: Any, path: str) -> None:
        """The value given to a field in a filter: operators if it has ``$`` keys, else data."""
        if not _has_dollar_key(value):
            return  # a literal (an equality match on a value or embedded document)
        for op, arg in value.items():
            if op == "$options" and "$regex" in value:
                continue  # a parameter of $regex, not an operator of its own
            if isinstance(op, str) and op.startswith("$"):
                self.query_operator(op, arg, f"{path}.{op}")

    def query_operator(self, op: str, arg: Any, path: str) -> None:
        self.add("query", op, path)
        if op in ("$and", "$or", "$nor"):
            for i, sub in enumerate(_items(arg)):
                self.query_doc(sub, f"{path}[{i}]")
        elif op == "$not":
            self.field_condition(arg, path)
        elif op == "$elemMatch":
            self.query_doc(arg, path)
        elif op == "$all":
            for i, element in enumerate(_items(arg)):
                self.field_condition(element, f"{path}[{i}]")
        elif op == "$expr":
            self.expression(arg, path)
        elif op in _GEO_QUERY_OPERATORS and isinstance(arg, Mapping):
            for spec in arg:
                if isinstance(spec, str) and spec.startswith("$"):
                    self.add("query", spec, f"{path}.{spec}")  # $geometry, $box, $maxDistance ...
        # $text's $search/$language/..., $jsonSchema's keywords, $where's code,
        # and the operands of comparison operators are arguments, not operators.

    # projections and sorts -----------------------------------------------------------

    def projection(self, doc: Any, path: str) -> None:
        if not isinstance(doc, Mapping):
            return
        for key, value in doc.items():
            here = f"{path}.{key}"
            if isinstance(key, str) and (key == "$" or key.endswith(".$")):
                self.add("projection", "$", here)
            elif isinstance(key, str) and key.startswith("$"):
                self.add("projection", key, here)
            if _has_dollar_key(value):
                for op, arg in value.items():
                    if isinstance(op, str) and op.startswith("$"):
                        self.add("projection", op, f"{here}.{op}")
                        if op == "$elemMatch":
                            self.query_doc(arg, f"{here}.{op}")
            elif isinstance(value, Mapping):
                self.projection(value, here)

    def sort(self, doc: Any, path: str) -> None:
        """A find sort or hint: ``{$natural: 1}`` and ``{field: {$meta: ...}}`` are the operators."""
        if not isinstance(doc, Mapping):
            return
        for key, value in doc.items():
            here = f"{path}.{key}"
            if isinstance(key, str) and key.startswith("$"):
                self.add("expression", key, here)
            if isinstance(value, Mapping):
                for op in value:
                    if isinstance(op, str) and op.startswith("$"):
                        self.add("projection", op, f"{here}.{op}")

    # updates ------------------------------------------------------------------------

    def update(self, update: Any, path: str) -> None:
        """An update: operators, a pipeline, or a replacement document (data)."""
        if isinstance(update, Sequence) and not isinstance(update, str | bytes):
            self.pipeline(update, path)
            return
        if not _has_dollar_key(update):
            return  # a replacement document
        for op, fields in update.items():
            if not (isinstance(op, str) and op.startswith("$")):
                continue
            here = f"{path}.{op}"
            self.add("update", op, here)
            if not isinstance(fields, Mapping):
                continue
            for field, value in fields.items():
                field_path = f"{here}.{field}"
                if isinstance(field, str):
                    for positional in _positional_operators(field):
                        self.add("update", positional, field_path)
                if op in ("$push", "$addToSet") and isinstance(value, Mapping) and "$each" in value:
                    for modifier in value:
                        if isinstance(modifier, str) and modifier.startswith("$"):
                            self.add("update_modifier", modifier, f"{field_path}.{modifier}")
                elif op == "$pull" and isinstance(value, Mapping):
                    if _has_dollar_key(value):
                        self.field_condition(value, field_path)
                    else:
                        self.query_doc(value, field_path)
                # Other values ($set, $inc, $setOnInsert, $unset, ...) are data.

    # aggregation ------------------------------------------------------------------------

    def pipeline(self, stages: Any, path: str) -> None:
        for i, stage in enumerate(_items(stages)):
            if not isinstance(stage, Mapping):
                continue
            for name, arg in stage.items():
                here = f"{path}[{i}].{name}"
                if isinstance(name, str) and name.startswith("$"):
                    self.add("stage", name, here)
                    self.stage_argument(name, arg, here)

    def stage_argument(self, stage: str, arg: Any, path: str) -> None:
        if stage == "$match":
            self.query_doc(arg, path)
        elif stage in _EXPRESSION_STAGES:
            self.expression(arg, path)
        elif stage == "$sort" and isinstance(arg, Mapping):
            for key, value in arg.items():
                if isinstance(key, str) and key.startswith("$"):
                    self.add("expression", key, f"{path}.{key}")
                self.expression(value, f"{path}.{key}")
        elif stage == "$lookup" and isinstance(arg, Mapping):
            self.expression(arg.get("let"), f"{path}.let")
            self.pipeline(arg.get("pipeline"), f"{path}.pipeline")
        elif stage == "$facet" and isinstance(arg, Mapping):
            for name, sub in arg.items():
                self.pipeline(sub, f"{path}.{name}")
        elif stage == "$unionWith" and isinstance(arg, Mapping):
            self.pipeline(arg.get("pipeline"), f"{path}.pipeline")
        elif stage == "$graphLookup" and isinstance(arg, Mapping):
            self.expression(arg.get("startWith"), f"{path}.startWith")
            self.query_doc(arg.get("restrictSearchWithMatch"), f"{path}.restrictSearchWithMatch")
        elif stage == "$geoNear" and isinstance(arg, Mapping):
            self.query_doc(arg.get("query"), f"{path}.query")
        elif stage == "$merge" and isinstance(arg, Mapping):
            self.expression(arg.get("let"), f"{path}.let")
            if isinstance(arg.get("whenMatched"), Sequence) and not isinstance(arg.get("whenMatched"), str):
                self.pipeline(arg["whenMatched"], f"{path}.whenMatched")
        # $limit, $skip, $count, $unwind, $out, $sample, $unset, ...: arguments only.

    def expression(self, expr: Any, path: str) -> None:
        """An aggregation expression. Strings are field paths or variables, never operators."""
        if isinstance(expr, str):
            variable = _system_variable(expr)
            if variable is not None:
                self.add("system_variable", variable, path)
        elif isinstance(expr, Mapping):
            for key, value in expr.items():
                here = f"{path}.{key}"
                if isinstance(key, str) and key.startswith("$"):
                    self.add("expression", key, here)
                    if key in ("$literal", "$const", "$meta"):
                        continue  # the argument is a literal
                self.expression(value, here)  # an object's values are expressions too
        elif isinstance(expr, Sequence) and not isinstance(expr, bytes):
            for i, item in enumerate(expr):
                self.expression(item, f"{path}[{i}]")


def _has_dollar_key(value: Any) -> bool:
    return isinstance(value, Mapping) and any(isinstance(k, str) and k.startswith("$") for k in value)


def _items(value: Any) -> list[Any]:
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    return []


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in _items(value) if isinstance(item, Mapping)]


def _system_variable(value: str) -> str | None:
    """``"$$ROOT.a"`` -> ``"$$ROOT"``; user variables (``$$this``) and field paths -> None."""
    if not value.startswith("$$"):
        return None
    name = value[2:].split(".", 1)[0]
    if name and name.replace("_", "").isalpha() and name.isupper():
        return f"$${name}"
    return None


def _positional_operators(field_path: str) -> list[str]:
    """The positional update operators in a field path: ``a.$.b``, ``a.$[].b``, ``a.$[x].b``."""
    found: list[str] = []
    for segment in field_path.split("."):
        if segment == "$":
            found.append("$")
        elif segment == "$[]":
            found.append("$[]")
        elif segment.startswith("$[") and segment.endswith("]"):
            found.append("$[<identifier>]")
    return found


def extract_operators(command_name: str, command: Mapping[str, Any]) -> list[OperatorUse]:
    """Every ``$`` operator (and mapped option) in one command document, in document order."""
    extractor = _Extractor()
    extractor.command(command_name, command)
    return extractor.uses


class OperatorRecorder(CommandListener):
    """A pymongo command listener that records every command a client sends.

    Thread-safe: pymongo calls listeners from whichever thread runs the
    operation. Pass it as ``mongo_client(uri, event_listeners=[recorder])``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._commands: list[RecordedCommand] = []
        self._failures: list[FailedCommand] = []

    # CommandListener -------------------------------------------------------------------

    def started(self, event: CommandStartedEvent) -> None:
        """Record the command, its operators, and whether it carried ``txnNumber``."""
        self.record(event.command_name, event.command, event.database_name, event.request_id)

    def succeeded(self, event: CommandSucceededEvent) -> None:
        """Nothing to record: the audit is about what was sent."""

    def failed(self, event: CommandFailedEvent) -> None:
        """Keep the server's error, so a report can show what the test server refused."""
        failure = event.failure if isinstance(event.failure, Mapping) else {}
        code = failure.get("code")
        failed = FailedCommand(
            name=event.command_name,
            request_id=event.request_id,
            code=code if isinstance(code, int) else None,
            message=str(failure.get("errmsg", "")),
        )
        with self._lock:
            self._failures.append(failed)

    # recording ----------------------------------------------------------------------------

    def record(
        self, command_name: str, command: Mapping[str, Any], database: str = "", request_id: int = 0
    ) -> RecordedCommand:
        """Record one command (what :meth:`started` does; also usable without a client)."""
        internal = is_driver_internal(command_name)
        operators = () if internal or not command else tuple(extract_operators(command_name, command))
        txn = command.get("txnNumber") if command else None
        recorded = RecordedCommand(
            name=command_name,
            database=database,
            request_id=request_id,
            operators=operators,
            txn_number=int(txn) if txn is not None else None,
            driver_internal=internal,
        )
        with self._lock:
            self._commands.append(recorded)
        return recorded

    def clear(self) -> None:
        """Forget everything recorded so far."""
        with self._lock:
            self._commands.clear()
            self._failures.clear()

    # reading --------------------------------------------------------------------------------

    @property
    def commands(self) -> list[RecordedCommand]:
        """Every recorded command, driver-internal ones included, in the order sent."""
        with self._lock:
            return list(self._commands)

    @property
    def failures(self) -> list[FailedCommand]:
        """Every command the server answered with an error."""
        with self._lock:
            return list(self._failures)

    def command_names(self, *, include_internal: bool = True) -> list[str]:
        """The recorded command names, in the order sent."""
        return [c.name for c in self.commands if include_internal or not c.driver_internal]

    def uses(self, kind: str | None = None) -> list[tuple[RecordedCommand, OperatorUse]]:
        """Every operator use with its command, optionally only of one ``kind``."""
        return [(c, u) for c in self.commands for u in c.operators if kind is None or u.kind == kind]

    def operators(self, kind: str | None = None) -> set[str]:
        """The distinct operator names recorded, optionally only of one ``kind``."""
        return {u.name for _, u in self.uses(kind)}

    def txn_number_commands(self) -> list[RecordedCommand]:
        """The commands that carried ``txnNumber`` (retryable write attempts)."""
        return [c for c in self.commands if c.carries_txn_number]

    @property
    def carried_txn_number(self) -> bool:
        """Whether any command carried ``txnNumber``; with ``retryWrites=false`` none may."""
        return bool(self.txn_number_commands())


# judging -------------------------------------------------------------------------------------


def load_allowlist(path: str | Path | None = None) -> dict[str, Any]:
    """Load the DocumentDB support data (by default ``tests/documentdb/documentdb-5.0.json``)."""
    with open(path or ALLOWLIST_PATH, encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    missing = sorted({*KIND_SECTIONS.values()} - data.keys())
    if missing:
        raise ValueError(f"{path or ALLOWLIST_PATH}: missing sections {missing}")
    return data


def lookup(allowlist: Mapping[str, Any], kind: str, name: str) -> Mapping[str, Any] | None:
    """The data entry that judges ``name`` used as ``kind``, or None when it is not listed.

    Update operators and update modifiers share a section; a modifier
    (``$each``, ``$slice``, ``$position``, ``$sort``) only counts as one inside
    ``$push``/``$addToSet``, and an update operator only outside.
    """
    section = allowlist.get(KIND_SECTIONS[kind], {})
    entry = section.get(name)
    if not isinstance(entry, Mapping):
        return None
    if kind == "update" and entry.get("group") == "modifier":
        return None
    if kind == "update_modifier" and entry.get("group") != "modifier":
        return None
    return entry


def _why(entry: Mapping[str, Any] | None, engine: str) -> str:
    if entry is None:
        return "is not listed in the DocumentDB data (unknown, so treated as unsupported)"
    parts = [f"is not supported on {engine}"]
    status = entry.get("status_5_0")
    if status:
        parts.append(f"5.0 status {status!r}")
    if entry.get("added"):
        parts.append(f"added in {entry['added']}")
    if entry.get("conflict"):
        parts.append(str(entry["conflict"]))
    parts.append(str(entry.get("detail_url") or entry.get("url", "")))
    return "; ".join(p for p in parts if p)


def _supported(entry: Mapping[str, Any] | None) -> bool:
    return entry is not None and entry.get("supported") is True


def violations(
    recorder: OperatorRecorder | Iterable[RecordedCommand], allowlist: Mapping[str, Any]
) -> list[str]:
    """Readable lines for every command, operator or feature DocumentDB 5.0 does not support.

    Unknown names are violations too. Driver-internal commands are not judged
    (and have no operators). A command that carried ``txnNumber`` is a
    retryable write attempt, which DocumentDB supports only from 8.0.2. Each
    distinct problem is reported once, with how often it occurred and one path.
    """
    commands = recorder.commands if isinstance(recorder, OperatorRecorder) else list(recorder)
    engine = str(allowlist.get("engine", "Amazon DocumentDB 5.0"))
    found: dict[tuple[str, str, str], tuple[str, int]] = {}

    def note(key: tuple[str, str, str], line: str) -> None:
        first, count = found.get(key, (line, 0))
        found[key] = (first, count + 1)

    for command in commands:
        if command.driver_internal:
            continue
        entry = lookup(allowlist, "command", command.name)
        if not _supported(entry):
            note(("command", command.name, ""), f"{command.name}: command {_why(entry, engine)}")
        for use in command.operators:
            entry = lookup(allowlist, use.kind, use.name)
            if not _supported(entry):
                label = KIND_LABELS.get(use.kind, use.kind)
                note(
                    (command.name, use.kind, use.name),
                    f"{command.name}: {label} {use.name} (at {use.path}) {_why(entry, engine)}",
                )
        if command.carries_txn_number:
            entry = lookup(allowlist, "feature", RETRYABLE_WRITES)
            if not _supported(entry):
                note(
                    (command.name, "feature", RETRYABLE_WRITES),
                    f"{command.name}: carried txnNumber (a retryable write attempt); "
                    f"{RETRYABLE_WRITES} {_why(entry, engine)}; connect with retryWrites=false",
                )
    return [line if count == 1 else f"{line} [x{count}]" for line, count in found.values()]
