"""GET /api/session/list?client_id=: the caller's sessions within a client, newest first."""

from __future__ import annotations

from chalice import Blueprint, Chalice

from stateway import bodies, commands, http, runtime

bp = Blueprint(__name__)


@bp.route("/api/session/list", methods=["GET"], **http.ROUTE_OPTIONS)
@http.endpoint(bp, commands.user_sessions)
def session_list(command: commands.UserSessions) -> bodies.Reply:
    return bodies.session_list(runtime.session_service().list_sessions(command.client_id, command.user_id))


app = Chalice(app_name="stateway-session-list")
app.register_blueprint(bp)
