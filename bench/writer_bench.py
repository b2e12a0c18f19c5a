"""Log writer benchmark: submit() cost on the caller's thread, and rows/s + CPU-µs per row into chDB."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.store.client import Store, StoreConfig
from gateway.store.writer import LogWriter
from schemas.log import AttemptLog, RequestLog


def make_records(count: int, body_bytes: int) -> list[RequestLog]:
    """RequestLog rows with bodies of about `body_bytes` in total, as the gateway would produce them."""
    start = datetime.now(UTC)
    words = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven", "wizards",
             "quietly", "judge", "boxing", "matches", "near", "42", "tall", "buildings", "in", "Paris", "Tokyo"]
    text = " ".join(words[i % len(words)] + str(i % 97) for i in range(body_bytes))
    half = text[: body_bytes // 2]
    return [
        RequestLog(
            request_id=f"bench-{index:08d}", trace_id=f"{index:032x}", span_id=f"{index:016x}",
            started_at=start + timedelta(microseconds=index), duration_ms=42.0, ttft_ms=7.0,
            endpoint="chat.completions", http_status=200, status="ok", team=f"team-{index % 4}",
            feature=f"feature-{index % 10}", provider="openai", model_requested="gpt-4o",
            model_served="gpt-4o-2024-08-06", input_tokens=300, output_tokens=120, cost_nano_usd=1_950_000,
            price_known=True, metadata={"env": "bench", "tenant": str(index % 7)},
            attempts=[AttemptLog(target_path="", provider="openai", model="gpt-4o", status=200,
                                 started_at=start, latency_ms=40.0)],
            request_body=f'{{"messages":[{{"role":"user","content":"{half}"}}]}}',
            response_body=f'{{"choices":[{{"message":{{"content":"{half}"}}}}]}}',
        )
        for index in range(count)
    ]


def wait_visible(store: Store, expected: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.query("SELECT count() FROM requests")[0][0] >= expected:
            return True
        time.sleep(0.02)
    return False


def run(rows: int, body_bytes: int, batch_rows: int, flush_interval_ms: int,
        body_index: bool = True) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="pc-writer-bench-") as work:
        config = StoreConfig(dsn=f"chdb://{Path(work) / 'clickhouse'}", database="bench",
                             spool_dir=str(Path(work) / "spool"), batch_rows=batch_rows,
                             flush_interval_ms=flush_interval_ms)
        store = Store.connect(config)
        store.migrate()
        if not body_index:  # measure what the ngram text-search indexes on the bodies cost
            store.command("ALTER TABLE bench.requests DROP INDEX idx_request_body, DROP INDEX idx_response_body")
        writer = LogWriter.from_config(store, config)
        writer.start()

        # 1. submit() cost alone on the caller's thread, in small bursts (as requests finish)
        warm = make_records(2000, body_bytes)
        samples: list[float] = []
        for record in warm:
            began = time.perf_counter_ns()
            writer.submit(record)
            samples.append((time.perf_counter_ns() - began) / 1000)
        assert writer.wait_idle(60)
        store.command("TRUNCATE TABLE bench.requests")

        # 2. end to end: submit everything, wait until the rows are visible to a query
        records = make_records(rows, body_bytes)
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        for record in records:
            writer.submit(record)
        submit_wall = time.perf_counter() - wall_before
        visible = wait_visible(store, rows, 300)
        wall = time.perf_counter() - wall_before
        cpu = time.process_time() - cpu_before
        stats = writer.stats()
        writer.stop(30)
        store.close()
    samples.sort()
    return {
        "rows": rows, "body_bytes": body_bytes, "body_index": body_index, "batch_rows": batch_rows,
        "flush_interval_ms": flush_interval_ms,
        "all_visible": visible, "submit_us_median": round(statistics.median(samples), 2),
        "submit_us_p99": round(samples[int(len(samples) * 0.99)], 2),
        "submit_burst_us_per_call": round(submit_wall / rows * 1e6, 2),
        "end_to_end_s": round(wall, 3), "rows_per_s": round(rows / wall),
        "cpu_us_per_row": round(cpu / rows * 1e6, 1), "insert_failures": stats.insert_failures,
        "rows_flushed": stats.rows_flushed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--body-bytes", type=int, default=1024)
    parser.add_argument("--batch-rows", type=int, default=5000)
    parser.add_argument("--flush-interval-ms", type=int, default=1000)
    parser.add_argument("--no-body-index", action="store_true", help="drop the ngrambf indexes on bodies")
    args = parser.parse_args()
    result = run(args.rows, args.body_bytes, args.batch_rows, args.flush_interval_ms, not args.no_body_index)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
