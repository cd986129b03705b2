"""PUT /api/project-state/{client_id}/{app_id}/{project_id}: save a new version (store, cache, snapshot)."""

from __future__ import annotations

from chalice import Chalice

from stateway import bodies, commands, http, runtime

app = Chalice(app_name="stateway-project-save")


@http.route(app, "/api/project-state/{client_id}/{app_id}/{project_id}", "PUT", commands.project_save)
def project_save(command: commands.SaveProject) -> bodies.Reply:
    return bodies.project_saved(
        runtime.project_service().save(command.ref, command.state, expected_version=command.expected_version)
    )
