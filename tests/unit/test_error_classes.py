"""Outages and bugs are told apart at each tier's boundary, by the client library's error types."""

from __future__ import annotations

from redis import exceptions as rx

from stateway.tiers.mongo_store import is_transient
from stateway.tiers.redis_cache import classify


def test_redis_outages_and_bugs() -> None:
    outages: list[BaseException] = [
        rx.ConnectionError("refused"),
        rx.TimeoutError("timed out"),
        rx.BusyLoadingError("loading"),
        rx.ClusterDownError("CLUSTERDOWN The cluster is down"),
        rx.MasterDownError("MASTERDOWN"),
        rx.TryAgainError("TRYAGAIN"),
        rx.MovedError("3999 127.0.0.1:6381"),
        rx.AskError("3999 127.0.0.1:6381"),
        rx.ReadOnlyError("READONLY"),
        rx.SlotNotCoveredError("slot 3 is not covered"),
        rx.RedisClusterException("All slots are not covered after query all startup_nodes."),
        ConnectionRefusedError(),
    ]
    wrapped = rx.RedisClusterException("Redis Cluster cannot be connected.")
    wrapped.__cause__ = rx.ConnectionError("refused")
    outages.append(wrapped)
    bugs: list[BaseException] = [
        rx.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        rx.ResponseError("ERR Error running script"),
        rx.ClusterCrossSlotError("CROSSSLOT Keys in request don't hash to the same slot"),
        rx.RedisClusterException("DELETE can only be called with a single key"),
        rx.RedisClusterException("Cluster mode is not enabled on this node"),
        rx.AuthenticationError("invalid password"),
        rx.NoPermissionError("NOPERM"),
        rx.DataError("Invalid input"),
    ]
    assert [classify(e) for e in outages] == ["unavailable"] * len(outages)
    assert [classify(e) for e in bugs] == ["bug"] * len(bugs)


def test_mongo_transient_errors_and_bugs() -> None:
    import dns.resolver
    from pymongo import errors as mx

    srv = mx.ConfigurationError("The DNS query name does not exist")
    srv.__cause__ = dns.resolver.NXDOMAIN()
    transient: list[BaseException] = [
        mx.AutoReconnect("connection closed"),
        mx.NetworkTimeout("timed out"),
        mx.ServerSelectionTimeoutError("no server"),
        mx.NotPrimaryError("not primary"),
        mx.ExecutionTimeout("operation exceeded time limit", code=50),
        mx.OperationFailure("not writable primary", code=10107),
        mx.OperationFailure("primary stepped down", code=189),
        mx.OperationFailure("interrupted due to repl state change", code=11602),
        mx.OperationFailure("exceeded time limit", code=262),
        mx.OperationFailure("shutting down", code=91),
        srv,
    ]
    bugs: list[BaseException] = [
        mx.OperationFailure("unknown operator: $bsonSize", code=2),
        mx.OperationFailure("Unsupported conditional operator", code=303),
        mx.WriteError("Document failed validation", code=121),
        mx.DuplicateKeyError("E11000 duplicate key", code=11000),
        mx.ConfigurationError("Unknown option retryWritez"),
        mx.InvalidOperation("cannot use a closed client"),
    ]
    assert [is_transient(e) for e in transient] == [True] * len(transient)
    assert [is_transient(e) for e in bugs] == [False] * len(bugs)
