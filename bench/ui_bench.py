"""Latency of the UI pages over seeded data (bench/ui_seed.py): p50/p95 of trace list, trace detail and reports."""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from litestar import Litestar

from gateway.store.client import Store, StoreConfig
from gateway.store.writer import LogWriter
from schemas.ui import UiSettings, UiUser
from ui import build_router, hash_password

PASSWORD = "bench-password-1"
TARGETS_MS = {"trace list + filters": 300.0, "trace detail": 150.0, "cost page": 500.0}


@contextmanager
def serve(store: Store, port: int) -> Iterator[str]:
    """The UI router alone on uvicorn (127.0.0.1), with a real durable audit writer."""
    with tempfile.TemporaryDirectory() as spool:
        writer = LogWriter(store, spool_dir=spool)
        writer.start()
        settings = UiSettings(users={"admin": UiUser(password_hash=hash_password(PASSWORD), role="admin")})
        router = build_router(settings=settings, query=store.query_async, audit=writer.submit,
                              secret="bench-secret-0123456789", database=store.database)
        app = Litestar(route_handlers=[router], openapi_config=None, logging_config=None)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(10)
            writer.stop(10)


def login(client: httpx.Client, base: str) -> None:
    page = client.get(f"{base}/ui/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    response = client.post(f"{base}/ui/login", data={"username": "admin", "password": PASSWORD,
                                                     "csrf_token": token.group(1)})
    assert response.status_code == 303, response.status_code


def timed(client: httpx.Client, url: str, repeat: int, **kwargs: object) -> list[float]:
    samples = []
    for _ in range(repeat):
        begin = time.perf_counter()
        response = client.get(url, **kwargs)  # type: ignore[arg-type]
        samples.append((time.perf_counter() - begin) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return samples


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", default="chdb://./.portcullis/ui-bench")
    parser.add_argument("--database", default="portcullis")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()
    store = Store.connect(StoreConfig(dsn=args.dsn, database=args.database))
    total = store.query(f"SELECT count() FROM {args.database}.requests")[0][0]
    ids = [row[0] for row in store.query(
        f"SELECT request_id FROM {args.database}.requests ORDER BY cityHash64(request_id) LIMIT {{n:UInt32}}",
        {"n": args.repeat * 2})]
    model = store.query(f"SELECT model FROM {args.database}.requests_daily GROUP BY model "
                        f"ORDER BY sum(requests) DESC LIMIT 1")[0][0]
    print(f"{total:,} requests in {args.dsn} / {args.database}")
    results: dict[str, list[float]] = {}
    with serve(store, args.port) as base, httpx.Client(timeout=60.0) as client:
        login(client, base)
        timed(client, f"{base}/ui/traces", 2)  # warm caches and the template compiler
        page = client.get(f"{base}/ui/traces", params={"range": "7d"}).text
        cursor = re.search(r'rel="next" href="([^"]+)"', page)
        list_queries: dict[str, dict[str, str]] = {
            "default (24h)": {}, "7d": {"range": "7d"}, "30d": {"range": "30d"},
            "status=error 30d": {"range": "30d", "status": "error"}, f"model={model}": {"range": "7d", "model": model},
            "team+feature": {"range": "7d", "team": "search", "feature": "chat"},
            "latency>2s, cost sort": {"range": "7d", "min_latency_ms": "2000", "sort": "cost_nano_usd"},
            "guardrail=denied 30d": {"range": "30d", "guardrail": "denied"},
            "user 30d": {"range": "30d", "user": "user7@example.com"},
            "body search 24h": {"q": "ticket 12345"}, "body search 30d": {"range": "30d", "q": "ticket 987654"},
        }
        for name, params in list_queries.items():
            samples = timed(client, f"{base}/ui/traces", args.repeat, params=params)
            results.setdefault("trace list + filters", []).extend(samples)
            print(f"  list {name:28s} p50 {statistics.median(samples):7.1f} ms  p95 {p95(samples):7.1f} ms")
        if cursor:
            url = base + cursor.group(1).replace("&amp;", "&")
            samples = timed(client, url, args.repeat, headers={"HX-Request": "true", "HX-Target": "results"})
            results["trace list + filters"].extend(samples)
            print(f"  list {'next page (keyset)':28s} p50 {statistics.median(samples):7.1f} ms  "
                  f"p95 {p95(samples):7.1f} ms")
        results["trace detail"] = [timed(client, f"{base}/ui/traces/{rid}", 1)[0] for rid in ids]
        for range_key in ("7d", "30d", "90d"):
            results.setdefault("cost page", []).extend(
                timed(client, f"{base}/ui/cost", args.repeat, params={"range": range_key}))
        results["guardrails page"] = timed(client, f"{base}/ui/guardrails", args.repeat)
        results["usage page"] = timed(client, f"{base}/ui/usage", args.repeat)
    print()
    print(f"{'page':24s} {'n':>5s} {'p50 ms':>8s} {'p95 ms':>8s} {'target':>8s}")
    for name, samples in results.items():
        target = TARGETS_MS.get(name)
        verdict = "" if target is None else ("ok" if p95(samples) < target else "OVER")
        print(f"{name:24s} {len(samples):5d} {statistics.median(samples):8.1f} {p95(samples):8.1f} "
              f"{target or 0:8.0f} {verdict}")


if __name__ == "__main__":
    main()
