"""POST /api/session/init: load the session, or create it from defaults, once."""

from __future__ import annotations

from chalice import Chalice

from stateway import bodies, commands, http, runtime

app = Chalice(app_name="stateway-session-init")


@http.route(app, "/api/session/init", "POST", commands.session_init)
def session_init(command: commands.InitSession) -> bodies.Reply:
    return bodies.session_init(runtime.session_service().init(command.ref, command.env))
