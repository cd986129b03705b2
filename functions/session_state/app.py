"""GET /api/session/state?session_id=: the state from cache, store, or new defaults."""

from __future__ import annotations

from chalice import Blueprint, Chalice

from stateway import bodies, commands, http, runtime

bp = Blueprint(__name__)


@bp.route("/api/session/state", methods=["GET"], **http.ROUTE_OPTIONS)
@http.endpoint(bp, commands.session_state)
def session_state(command: commands.ReadSession) -> bodies.Reply:
    return bodies.session_state(runtime.session_service().state(command.ref))


app = Chalice(app_name="stateway-session-state")
app.register_blueprint(bp)
