"""The asyncio load generator: paired c=1 overhead, open-loop fixed rate, and SSE stream timings."""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import time
from collections.abc import Callable, Sequence

import aiohttp
import msgspec

_CONTENT_MARK = b'"content":"'
_NS_PER_MS = 1_000_000


class Endpoint(msgspec.Struct, kw_only=True, frozen=True):
    """Where to send chat completions and with which headers (direct to the simulator, or a gateway)."""

    name: str
    url: str
    headers: dict[str, str]
    model: str


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (values need not be sorted); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(math.ceil(pct / 100 * len(ordered)) - 1, 0)
    return ordered[min(rank, len(ordered) - 1)]


def _session(limit: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, force_close=False, ttl_dns_cache=None)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60))


async def _post(session: aiohttp.ClientSession, endpoint: Endpoint, body: bytes) -> tuple[int, int]:
    """One non-streaming request; (status, latency ns)."""
    started = time.perf_counter_ns()
    async with session.post(endpoint.url, data=body, headers={"content-type": "application/json",
                                                               **endpoint.headers}) as response:
        await response.read()
        return response.status, time.perf_counter_ns() - started


class PairedRound(msgspec.Struct, kw_only=True):
    """One round of paired c=1 requests: percentiles (ms) of direct, via gateway and of the paired difference."""

    direct_ms: dict[str, float]
    gateway_ms: dict[str, float]
    added_ms: dict[str, float]  # percentile(gw) - percentile(direct)
    paired_diff_ms: dict[str, float]  # percentile of (gw_i - direct_i)
    errors: int


def _pcts(values: Sequence[float]) -> dict[str, float]:
    return {f"p{p:g}": round(percentile(values, p), 4) for p in (50, 90, 99)}


async def paired_overhead(direct: Endpoint, gateway: Endpoint, make_body: Callable[[], bytes], *, rounds: int,
                          pairs_per_round: int, warmup: int, time_limit_s: float) -> list[PairedRound]:
    """Alternate direct and via-gateway requests one at a time (random order within each pair)."""
    results: list[PairedRound] = []
    rng = random.Random(7)
    deadline = time.monotonic() + time_limit_s
    async with _session(4) as direct_session, _session(4) as gateway_session:
        for _ in range(warmup):
            await _post(direct_session, direct, make_body())
            await _post(gateway_session, gateway, make_body())
        for _ in range(rounds):
            direct_ms: list[float] = []
            gateway_ms: list[float] = []
            errors = 0
            for _ in range(pairs_per_round):
                if time.monotonic() > deadline:
                    break
                order = [(direct_session, direct, direct_ms), (gateway_session, gateway, gateway_ms)]
                rng.shuffle(order)
                for session, endpoint, sink in order:
                    status, latency_ns = await _post(session, endpoint, make_body())
                    errors += status != 200
                    sink.append(latency_ns / _NS_PER_MS)
            if not gateway_ms:
                break
            diffs = [g - d for g, d in zip(gateway_ms, direct_ms, strict=False)]
            direct_p, gateway_p = _pcts(direct_ms), _pcts(gateway_ms)
            results.append(PairedRound(
                direct_ms=direct_p, gateway_ms=gateway_p,
                added_ms={k: round(gateway_p[k] - direct_p[k], 4) for k in direct_p},
                paired_diff_ms=_pcts(diffs), errors=errors,
            ))
    return results


class OpenLoopResult(msgspec.Struct, kw_only=True):
    """Fixed arrival rate: latency measured from the scheduled send time (no coordinated omission)."""

    rate: float
    sent: int
    completed: int
    errors: int
    dropped: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float


async def open_loop(endpoint: Endpoint, make_body: Callable[[], bytes], *, rate: float, duration_s: float,
                    max_in_flight: int = 2048) -> OpenLoopResult:
    """Send at a constant rate for `duration_s`; a send that would exceed `max_in_flight` counts as dropped."""
    latencies: list[float] = []
    errors = dropped = 0
    in_flight: set[asyncio.Task[None]] = set()
    total = int(rate * duration_s)

    async with _session(max_in_flight) as session:
        async def one(scheduled_ns: int) -> None:
            nonlocal errors
            try:
                async with session.post(endpoint.url, data=make_body(),
                                        headers={"content-type": "application/json", **endpoint.headers}) as resp:
                    await resp.read()
                    errors += resp.status != 200
            except (aiohttp.ClientError, TimeoutError):
                errors += 1
                return
            latencies.append((time.perf_counter_ns() - scheduled_ns) / _NS_PER_MS)

        start_ns = time.perf_counter_ns()
        for index in range(total):
            scheduled_ns = start_ns + int(index * 1e9 / rate)
            delay_s = (scheduled_ns - time.perf_counter_ns()) / 1e9
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            if len(in_flight) >= max_in_flight:
                dropped += 1
                continue
            task = asyncio.create_task(one(scheduled_ns))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.wait(in_flight, timeout=60)
    return OpenLoopResult(
        rate=rate, sent=total - dropped, completed=len(latencies), errors=errors, dropped=dropped,
        p50_ms=round(percentile(latencies, 50), 3), p90_ms=round(percentile(latencies, 90), 3),
        p99_ms=round(percentile(latencies, 99), 3), max_ms=round(max(latencies, default=float("nan")), 3),
    )


class StreamTiming(msgspec.Struct, kw_only=True):
    """One SSE stream: ms to response headers, to the first content delta, gaps between chunks, total."""

    ok: bool
    headers_ms: float
    ttft_ms: float
    gaps_ms: list[float]
    total_ms: float
    chunks: int


async def one_stream(session: aiohttp.ClientSession, endpoint: Endpoint, body: bytes,
                     timeout_s: float = 60.0) -> StreamTiming:
    """Read one stream line by line, timing headers, the first content delta and every later data line."""
    started = time.perf_counter_ns()
    ttft = float("nan")
    gaps: list[float] = []
    chunks = 0
    last_ns = 0
    try:
        async with asyncio.timeout(timeout_s):
            async with session.post(endpoint.url, data=body, headers={"content-type": "application/json",
                                                                        **endpoint.headers}) as response:
                headers_ns = time.perf_counter_ns()
                if response.status != 200:
                    await response.read()
                    return StreamTiming(ok=False, headers_ms=(headers_ns - started) / _NS_PER_MS,
                                        ttft_ms=ttft, gaps_ms=[], total_ms=float("nan"), chunks=0)
                async for line in response.content:
                    if not line.startswith(b"data:"):
                        continue
                    now = time.perf_counter_ns()
                    chunks += 1
                    if ttft != ttft:  # NaN: no content yet
                        mark = line.find(_CONTENT_MARK)
                        if mark >= 0 and line[mark + len(_CONTENT_MARK):mark + len(_CONTENT_MARK) + 1] != b'"':
                            ttft = (now - started) / _NS_PER_MS
                    elif last_ns:
                        gaps.append((now - last_ns) / _NS_PER_MS)
                    last_ns = now
    except (aiohttp.ClientError, TimeoutError):
        return StreamTiming(ok=False, headers_ms=float("nan"), ttft_ms=ttft, gaps_ms=gaps,
                            total_ms=float("nan"), chunks=chunks)
    return StreamTiming(ok=ttft == ttft, headers_ms=(headers_ns - started) / _NS_PER_MS, ttft_ms=ttft,
                        gaps_ms=gaps, total_ms=(time.perf_counter_ns() - started) / _NS_PER_MS, chunks=chunks)


async def paired_streams(direct: Endpoint, gateway: Endpoint, make_body: Callable[[], bytes], *, pairs: int,
                         warmup: int, time_limit_s: float) -> tuple[list[StreamTiming], list[StreamTiming]]:
    """c=1 streams, alternating direct and via gateway."""
    direct_runs: list[StreamTiming] = []
    gateway_runs: list[StreamTiming] = []
    deadline = time.monotonic() + time_limit_s
    async with _session(2) as direct_session, _session(2) as gateway_session:
        for _ in range(warmup):
            await one_stream(direct_session, direct, make_body())
            await one_stream(gateway_session, gateway, make_body())
        for index in range(pairs):
            if time.monotonic() > deadline:
                break
            order = [(direct_session, direct, direct_runs), (gateway_session, gateway, gateway_runs)]
            if index % 2:
                order.reverse()
            for session, endpoint, sink in order:
                sink.append(await one_stream(session, endpoint, make_body()))
    return direct_runs, gateway_runs


async def concurrent_streams(endpoint: Endpoint, make_body: Callable[[], bytes], *, streams: int,
                             ramp_s: float, timeout_s: float) -> list[StreamTiming]:
    """`streams` streams open at once (their starts spread over `ramp_s`)."""
    async with _session(streams + 8) as session:
        async def delayed(index: int) -> StreamTiming:
            await asyncio.sleep(ramp_s * index / max(streams, 1))
            return await one_stream(session, endpoint, make_body(), timeout_s=timeout_s)

        return list(await asyncio.gather(*(delayed(i) for i in range(streams))))


def summarise_streams(runs: Sequence[StreamTiming], stall_ms: float) -> dict[str, float]:
    """Percentiles of headers/TTFT/gaps over streams, completion count, and gaps above `stall_ms`."""
    ok = [run for run in runs if run.ok]
    gaps = [gap for run in ok for gap in run.gaps_ms]
    return {
        "streams": len(runs), "completed": len(ok),
        "headers_p50_ms": round(percentile([r.headers_ms for r in ok], 50), 3),
        "ttft_p50_ms": round(percentile([r.ttft_ms for r in ok], 50), 3),
        "ttft_p99_ms": round(percentile([r.ttft_ms for r in ok], 99), 3),
        "gap_p50_ms": round(percentile(gaps, 50), 3), "gap_p99_ms": round(percentile(gaps, 99), 3),
        "gap_max_ms": round(max(gaps, default=float("nan")), 3),
        "stalls": sum(gap > stall_ms for gap in gaps),
        "chunks_p50": statistics.median([r.chunks for r in ok]) if ok else 0,
        "total_p50_ms": round(percentile([r.total_ms for r in ok], 50), 3),
    }
