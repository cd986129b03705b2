"""GET /api/session/state?session_id=: the state from cache, store, or new defaults."""

from __future__ import annotations

from chalice import Chalice

from stateway import bodies, commands, http, runtime

app = Chalice(app_name="stateway-session-state")


@http.route(app, "/api/session/state", "GET", commands.session_state)
def session_state(command: commands.ReadSession) -> bodies.Reply:
    return bodies.session_state(runtime.session_service().state(command.ref))
