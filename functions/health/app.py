"""GET /api/health: each tier "ok" or "down"; 503 when the store is down. No token."""

from __future__ import annotations

from chalice import Chalice

from stateway import bodies, commands, http, runtime

app = Chalice(app_name="stateway-health")


@http.route(app, "/api/health", "GET", commands.public, public=True)
def health(command: None) -> bodies.Reply:
    return bodies.health(runtime.health())
