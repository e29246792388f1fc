"""The Litestar HTTP API (docs/api.md). Build it with `entrypoints.http.app.create_app`."""
