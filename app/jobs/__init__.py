"""Long work in the background: large exports (and, later, imports) run as jobs that any
worker claims — the app's own thread on the embedded default, `flask worker` processes when
there are several servers — with progress the requester can follow at /jobs/<id>."""
