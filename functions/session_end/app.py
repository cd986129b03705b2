"""DELETE /api/session/end?session_id=, or ?client_id=&all=true: end one session or all of the user's."""

from __future__ import annotations

from chalice import Blueprint, Chalice

from stateway import bodies, commands, http, runtime

bp = Blueprint(__name__)


@bp.route("/api/session/end", methods=["DELETE"], **http.ROUTE_OPTIONS)
@http.endpoint(bp, commands.session_end)
def session_end(command: commands.EndSessions) -> bodies.Reply:
    runtime.session_service().end_sessions(command)
    return bodies.ended()


app = Chalice(app_name="stateway-session-end")
app.register_blueprint(bp)
