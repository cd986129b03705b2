"""GET /api/session/list?client_id=: the caller's sessions within a client, newest first."""

from __future__ import annotations

from chalice import Chalice

from stateway import bodies, commands, http, runtime

app = Chalice(app_name="stateway-session-list")


@http.route(app, "/api/session/list", "GET", commands.user_sessions)
def session_list(command: commands.UserSessions) -> bodies.Reply:
    return bodies.session_list(runtime.session_service().list_sessions(command.client_id, command.user_id))
