"""POST /api/session/init: load the session, or create it from defaults, once."""

from __future__ import annotations

from chalice import Blueprint, Chalice

from stateway import bodies, commands, http, runtime

bp = Blueprint(__name__)


@bp.route("/api/session/init", methods=["POST"], **http.ROUTE_OPTIONS)
@http.endpoint(bp, commands.session_init)
def session_init(command: commands.InitSession) -> bodies.Reply:
    return bodies.session_init(runtime.session_service().init(command.ref, command.env))


app = Chalice(app_name="stateway-session-init")
app.register_blueprint(bp)
