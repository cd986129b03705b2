"""PATCH /api/session/update: set one key, or append one navigation entry."""

from __future__ import annotations

from chalice import Chalice

from stateway import bodies, commands, http, runtime

app = Chalice(app_name="stateway-session-update")


@http.route(app, "/api/session/update", "PATCH", commands.session_update)
def session_update(command: commands.UpdateSession) -> bodies.Reply:
    return bodies.session_updated(runtime.session_service().update(command))
