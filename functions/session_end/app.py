"""DELETE /api/session/end?session_id=, or ?client_id=&all=true: end one session or all of the user's."""

from __future__ import annotations

from chalice import Chalice

from stateway import bodies, commands, http, runtime

app = Chalice(app_name="stateway-session-end")


@http.route(app, "/api/session/end", "DELETE", commands.session_end)
def session_end(command: commands.EndSessions) -> bodies.Reply:
    runtime.session_service().end_sessions(command)
    return bodies.ended()
