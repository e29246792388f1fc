"""Calls one ASGI app in-process, request after request: the program that
`bench_app_instructions` runs under callgrind.

    python -m benchmarks.app_driver orderly|reference get|post COUNT

It builds the app as its server would (Orderly through `app_factory`, as `orderly
serve` does beside its delivery process: ORDERLY_DELIVERY_APART and a Prometheus
multiprocess directory; the reference from `benchmarks/flat_reference.py`), starts
its lifespan, sends 200 requests to warm it up, then COUNT more. The database and
the key come from the environment (ORDERLY_DATABASE_URL or REF_DB, BENCH_KEY); GET
reads an order the driver places first. No server, no socket: what is counted is
the app's own work, the part in which Orderly and the reference differ.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from typing import Any

WARM_UP = 200
BODY = (
    b'{"lines":[{"sku":"SKU-000001","quantity":1},{"sku":"SKU-000002","quantity":2},'
    b'{"sku":"SKU-000003","quantity":3}]}'
)


def _app(target: str) -> Any:
    if target == "orderly":
        os.environ["ORDERLY_DELIVERY_APART"] = "1"  # as `serve` runs it on SQLite
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-metrics-")
        from entrypoints.http.asgi import app_factory

        return app_factory()
    from benchmarks.flat_reference import app

    return app


def _scope(method: str, path: str, key: str) -> dict[str, Any]:
    headers = [(b"host", b"bench"), (b"authorization", f"Bearer {key}".encode())]
    if method == "POST":
        headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }


async def _drive(app: Any, verb: str, count: int) -> None:
    lifespan: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started = asyncio.Event()

    async def life_receive() -> dict[str, Any]:
        return await lifespan.get()

    async def life_send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    await lifespan.put({"type": "lifespan.startup"})
    life = asyncio.create_task(app({"type": "lifespan"}, life_receive, life_send))
    await started.wait()
    key = os.environ["BENCH_KEY"]
    statuses: list[int] = []
    sent: list[bytes] = []
    body = [BODY]  # GET's requests have none

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body[0], "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])
        elif message["type"] == "http.response.body":
            sent.append(message.get("body", b""))

    post = _scope("POST", "/v1/orders", key)
    await app(dict(post), receive, send)  # GET's order (and a first placement for POST)
    order_id = json.loads(sent[-1])["id"]
    scope = post if verb == "post" else _scope("GET", f"/v1/orders/{order_id}", key)
    if verb == "get":
        body[0] = b""
    for _ in range(WARM_UP + count):
        await app(dict(scope), receive, send)
    await lifespan.put({"type": "lifespan.shutdown"})
    await life
    expected = [201] + [201 if verb == "post" else 200] * (WARM_UP + count)
    if statuses != expected:
        raise SystemExit(f"unexpected answers: {sorted(set(statuses))}")


def main() -> None:
    target, verb, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the access lines, for the process's life
    asyncio.run(_drive(_app(target), verb, count))


if __name__ == "__main__":
    main()
