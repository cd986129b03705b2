"""The local stack, installed as ``stateway_local`` (pyproject.toml maps it to ``infra/local``).

Real-protocol servers on loopback (:mod:`~stateway_local.servers`,
:mod:`~stateway_local.redis_cluster`, :mod:`~stateway_local.seaweed`), the gateway over every
function (``python -m stateway_local.run``, which ``make dev`` runs), development tokens
(:mod:`~stateway_local.devtoken`), and what invokes a function in-process
(:mod:`~stateway_local.functions`, :mod:`~stateway_local.events`).

This module imports nothing: ``bench/cold_child.py`` times a function's cold import after
importing :mod:`stateway_local.functions`.
"""
