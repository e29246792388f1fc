"""The Litestar HTTP API (SPEC section 2). Build it with `entrypoints.http.app.create_app`."""
