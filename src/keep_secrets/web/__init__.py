"""The local web UI (`keep server`, SPEC §11): a Starlette app over the same services as the CLI.

Layout: :mod:`.security` (the middleware every request passes), :mod:`.api` (request
reading, per-request project and vaults, error -> status mapping), one module of endpoints
per area (:mod:`.routes_secrets`, :mod:`.routes_bulk`, :mod:`.routes_templates`,
:mod:`.routes_project`), :mod:`.app` (wiring) and `static/` (the page: plain HTML, CSS and
JavaScript modules, no build step, nothing loaded from elsewhere).

JSON API (all under `/api/`, with `Authorization: Session <secret>` from a sign-in or
`Authorization: Bearer KEEP_SERVER_TOKEN`; a cookie is never a credential; inputs as query
parameters for GET/DELETE and a JSON object body otherwise; `vault` defaults to the default
vault; values are masked unless the endpoint reveals them on purpose)::

    POST   /api/session                  secret (one-time, from #signin=)  -> 201 {session, idle_timeout}
    GET    /api/session                  {signed_in, idle_timeout};  DELETE /api/session: sign out
    GET    /api/context                  names, stages, vaults, workspace
    GET    /api/info                     the `keep info --format json` object
    GET    /api/secrets                  vault, stage[, q, in=values|keys|both, case, only, except]
    GET    /api/secret                   vault, stage, key[, version, field, masked] -> the value
    POST   /api/secret                   vault, stage, key, value[, secure]       201 / 409 exists
    PUT    /api/secret                   vault, stage, key, value, revision[, secure]  404 / 409 stale
    DELETE /api/secret                   vault, stage, key, revision[, purge]     404 / 409 stale
    POST   /api/secret/rename            vault, stage, key, new_key, revision[, overwrite]
    POST   /api/secret/restore|copy|rollback|generate
    GET    /api/secret/history           vault, stage, key[, limit]
    GET    /api/diff                     [vaults, stages, only, except]
    GET    /api/check                    [vaults, stages] (schema check)
    POST   /api/import/preview|apply     vault, stage, content[, filename, format, mode, only,
                                         except, dry_run]
    POST   /api/export                   stage[, vault(s), format, template|content, missing,
                                         all, only, except, reveal]
    GET    /api/templates, GET /api/template name -> {name, content, revision}
    PUT    /api/template                 name, content[, revision | overwrite=false (a create)]
                                         409 stale / exists: conflict {name, expected, current}
    DELETE /api/template                 name[, revision]          404 / 409 stale
    POST   /api/template/generate|validate
    PUT    /api/settings, POST|PUT|DELETE /api/vaults, POST|DELETE /api/stages,
    PUT    /api/workspace, POST /api/verify

Errors are `{"error", "hint", "status"}` with 400 (invalid input), 401, 403 (refused request
or access denied by the store), 404, 409 (exists / conflict), 413, 415 or 500. A stale
revision's 409 adds `conflict: {key, expected, current: {revision, value (masked), modified,
secure} | null, yours (masked) | null}`; resend with `current.revision` to overwrite.
"""
