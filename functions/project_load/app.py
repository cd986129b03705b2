"""GET /api/project-state/{client_id}/{app_id}/{project_id}: from cache, store or the newest snapshot."""

from __future__ import annotations

from chalice import Chalice

from stateway import bodies, commands, http, runtime

app = Chalice(app_name="stateway-project-load")


@http.route(app, "/api/project-state/{client_id}/{app_id}/{project_id}", "GET", commands.project_load)
def project_load(command: commands.LoadProject) -> bodies.Reply:
    return bodies.project_state(runtime.project_service().load(command.ref))
