"""Durable writer: exactly once through failures, lost responses, restarts, disk cap, poison rows, torn frames."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import msgspec
from clickhouse_connect.driver.exceptions import OperationalError
from store_records import make_request

from gateway.store.client import Store, StoreConfig
from gateway.store.flush import DEAD_LETTER_FILE
from gateway.store.spool import SEGMENT_SUFFIX, Spool, encode_frame
from gateway.store.writer import LogWriter


class FlakyStore:
    """Fault injection around the real store: the first `fail` inserts raise, before or after inserting."""

    def __init__(self, store: Store, *, fail: int, after_insert: bool = False) -> None:
        self.store, self.remaining, self.after_insert = store, fail, after_insert
        self.calls = 0
        self.lock = threading.Lock()

    def insert(self, table: str, rows: Any, column_names: Any, dedup_token: str | None = None) -> None:
        with self.lock:
            self.calls += 1
            failing = self.remaining > 0
            self.remaining -= int(failing)
        if failing and not self.after_insert:
            raise OperationalError("injected: ClickHouse unreachable")
        self.store.insert(table, rows, column_names, dedup_token=dedup_token)
        if failing:
            raise OperationalError("injected: response lost after the insert landed")


def _counts(store: Store) -> tuple[int, int]:
    return store.query("SELECT count(), uniqExact(request_id) FROM requests")[0]


def _writer(inserter: Any, config: StoreConfig, **overrides: Any) -> LogWriter:
    settings = dict(spool_dir=config.spool_dir, spool_max_bytes=config.spool_max_bytes,
                    batch_rows=config.batch_rows, flush_interval_ms=config.flush_interval_ms,
                    fsync_window_ms=config.fsync_window_ms)
    settings.update(overrides)
    return LogWriter(inserter, **settings)


def test_store_writer_exactly_once(store: Store, store_config: StoreConfig) -> None:
    writer = _writer(store, store_config)
    writer.start()
    for index in range(2000):
        writer.submit(make_request(index))
    assert writer.wait_idle(30), writer.stats()
    stats = writer.stats()
    assert writer.stop(5)
    assert _counts(store) == (2000, 2000)
    assert stats.rows_flushed == 2000 and stats.records_durable == 2000 and stats.insert_failures == 0
    assert not any(Path(store_config.spool_dir).glob(f"*{SEGMENT_SUFFIX}"))


def test_store_writer_retries_failed_inserts(store: Store, store_config: StoreConfig) -> None:
    flaky = FlakyStore(store, fail=3)
    writer = _writer(flaky, store_config)
    writer.start()
    for index in range(600):
        writer.submit(make_request(index))
    assert writer.wait_idle(30), writer.stats()
    assert writer.stop(5)
    assert _counts(store) == (600, 600)
    assert writer.stats().insert_failures == 3 and writer.stats().rows_flushed == 600


def test_store_writer_lost_response_is_deduplicated(store: Store, store_config: StoreConfig) -> None:
    flaky = FlakyStore(store, fail=4, after_insert=True)
    writer = _writer(flaky, store_config)
    writer.start()
    for index in range(600):
        writer.submit(make_request(index))
    assert writer.wait_idle(30), writer.stats()
    assert writer.stop(5)
    assert flaky.calls > 4
    assert _counts(store) == (600, 600)  # no FINAL: the token dedup, not the merge, prevented duplicates
    assert store.query("SELECT sum(requests) FROM requests_daily") == [(600,)]


def test_store_writer_restart_replays_spool(store: Store, store_config: StoreConfig) -> None:
    first = _writer(store, store_config, flush_interval_ms=60_000, batch_rows=10_000)  # nothing sealed early
    first.start()
    for index in range(700):
        first.submit(make_request(index))
    assert first.stop(5, drain_to_store=False) is False  # segments stay on disk
    assert first.stats().records_durable == 700
    assert _counts(store) == (0, 0)

    second = _writer(store, store_config)
    second.start()
    assert second.wait_idle(30), second.stats()
    assert second.stop(5)
    assert _counts(store) == (700, 700)


def test_store_writer_restart_after_partial_flush(store: Store, store_config: StoreConfig) -> None:
    # the first writer lands one batch, then every insert "loses its response"; it stops without draining
    crashing = FlakyStore(store, fail=10_000, after_insert=True)
    first = _writer(crashing, store_config, batch_rows=100, flush_interval_ms=10_000)
    first.start()
    for index in range(450):
        first.submit(make_request(index))
    first.flush_now()
    deadline_calls = 0
    while crashing.calls < 2 and deadline_calls < 500:
        threading.Event().wait(0.01)
        deadline_calls += 1
    first.stop(2, drain_to_store=False)
    landed = _counts(store)[0]
    assert landed > 0  # some batches landed before the "crash"; the replay re-sends them

    second = _writer(store, store_config, batch_rows=100, flush_interval_ms=10_000)
    second.start()
    assert second.wait_idle(30), second.stats()
    assert second.stop(5)
    assert _counts(store) == (450, 450)


def test_store_writer_disk_cap_strips_bodies_then_drops(store: Store, store_config: StoreConfig) -> None:
    down = FlakyStore(store, fail=10**9)  # ClickHouse down for the whole run: the spool only grows
    writer = _writer(down, store_config, spool_max_bytes=200_000, flush_interval_ms=20)
    writer.start()
    for index in range(600):
        writer.submit(make_request(index))
    assert writer.wait_idle(0.5) is False  # cannot drain while ClickHouse is down
    stats = writer.stats()
    assert stats.bodies_stripped > 0 and stats.records_dropped > 0
    assert stats.records_spooled + stats.records_dropped == 600
    assert stats.spool_bytes <= 200_000
    writer.stop(2, drain_to_store=False)

    recovered = _writer(store, store_config, spool_max_bytes=200_000)
    recovered.start()
    assert recovered.wait_idle(30), recovered.stats()
    assert recovered.stop(5)
    assert _counts(store) == (stats.records_spooled, stats.records_spooled)
    stripped = store.query("SELECT count() FROM requests WHERE log_policy = 'metadata' AND request_body = ''")
    assert stripped == [(stats.bodies_stripped,)]


def test_store_writer_poison_row_goes_to_dead_letter(store: Store, store_config: StoreConfig) -> None:
    writer = _writer(store, store_config)
    writer.start()
    for index in range(50):
        writer.submit(make_request(index, cost_nano_usd=-5 if index == 17 else 10))
    writer.submit(object())  # type: ignore[arg-type]  # not even encodable: must not raise either
    assert writer.wait_idle(30), writer.stats()
    assert writer.stop(5)
    assert _counts(store) == (49, 49)
    assert writer.stats().dead_letters == 2
    lines = (Path(store_config.spool_dir) / DEAD_LETTER_FILE).read_bytes().splitlines()
    entries = [msgspec.json.decode(line) for line in lines]
    poison = next(entry for entry in entries if entry["table"] == "requests")
    assert poison["record"]["request_id"] == "req-000017" and poison["reason"]


def test_store_writer_tolerates_torn_and_corrupt_frames(store: Store, store_config: StoreConfig) -> None:
    spool = Spool(store_config.spool_dir, 1 << 30, 1 << 20)
    spool.existing_segments()
    for index in range(5):
        spool.append(make_request(index))
    segment = spool.seal()
    assert segment is not None
    data = bytearray(Path(segment.path).read_bytes())
    frame_size = len(data) // 5
    data[frame_size + 20] ^= 0xFF  # corrupt the second frame's payload
    data += encode_frame(b"\x81\xa4type\xa7request")[:7]  # a torn final frame
    Path(segment.path).write_bytes(bytes(data))

    writer = _writer(store, store_config)
    writer.start()
    assert writer.wait_idle(30), writer.stats()
    assert writer.stop(5)
    stats = writer.stats()
    assert stats.crc_failures == 1 and stats.torn_tails == 1
    ids = {row[0] for row in store.query("SELECT request_id FROM requests")}
    assert ids == {"req-000000", "req-000002", "req-000003", "req-000004"}
