"""Child process for the SIGKILL test: `produce` writes and acknowledges ids until killed; `verify` replays."""

from __future__ import annotations

import json
import sys
import time

from store_records import make_request

from gateway.store.client import Store, StoreConfig
from gateway.store.writer import LogWriter

DATABASE = "pc_sigkill"


def _open(chdb_path: str, spool_dir: str) -> tuple[Store, LogWriter]:
    config = StoreConfig(dsn=f"chdb://{chdb_path}", database=DATABASE, spool_dir=spool_dir,
                         flush_interval_ms=30, fsync_window_ms=5, batch_rows=200)
    store = Store.connect(config)
    store.migrate()
    writer = LogWriter.from_config(store, config)
    writer.start()
    return store, writer


def produce(chdb_path: str, spool_dir: str) -> None:
    _, writer = _open(chdb_path, spool_dir)
    print("READY", flush=True)
    index = 0
    while index < 200_000:
        for _ in range(25):
            writer.submit(make_request(index))
            index += 1
        deadline = time.monotonic() + 5
        while writer.stats().records_durable < index and time.monotonic() < deadline:
            time.sleep(0.001)
        if writer.stats().records_durable < index:
            raise SystemExit("fsync did not complete within 5 s")
        # every id below `index` is durable; the second number shows ClickHouse already holds some rows
        print(f"ACK {index} {writer.stats().rows_flushed}", flush=True)


def verify(chdb_path: str, spool_dir: str, acked: int) -> None:
    store, writer = _open(chdb_path, spool_dir)
    idle = writer.wait_idle(60)
    writer.stop(10)
    count, distinct = store.query("SELECT count(), uniqExact(request_id) FROM requests")[0]
    missing = store.query(
        "SELECT {acked:UInt32} - uniqExact(request_id) FROM requests "
        "WHERE toUInt32(substring(request_id, 5)) < {acked:UInt32}", {"acked": acked})[0][0]
    stats = writer.stats()
    print(json.dumps({"idle": idle, "count": count, "distinct": distinct, "missing_acked": missing,
                      "crc_failures": stats.crc_failures, "torn_tails": stats.torn_tails}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "produce":
        produce(sys.argv[2], sys.argv[3])
    else:
        verify(sys.argv[2], sys.argv[3], int(sys.argv[4]))
