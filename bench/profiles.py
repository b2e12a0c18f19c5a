"""How much each profile measures: full (manual, ~30 min), quick (CI, <= 3 min), tiny (the test, <= 60 s)."""

from __future__ import annotations

import msgspec


class Profile(msgspec.Struct, kw_only=True, frozen=True):
    """Sizes of every experiment; 0 or an empty list skips it."""

    name: str
    cells: tuple[str, ...]
    peers: tuple[str, ...] = ()
    reps: int = 3
    warmup_s: float = 3.0
    overhead_rounds: int = 7
    overhead_pairs: int = 200
    overhead_warmup: int = 50
    throughput_s: float = 8.0
    sweep_connections: tuple[int, ...] = (8, 32, 64, 128, 256)  # for the cells in sweep_cells and peers
    sweep_cells: tuple[str, ...] = ("bare",)
    transport_connections: tuple[int, ...] = (64, 256)  # bare-httpx (issue 2)
    cell_connections: tuple[int, ...] = (64,)  # every other cell
    cpu_s: float = 10.0
    cpu_connections: int = 32
    stream_pairs: int = 30
    concurrent_streams: tuple[int, ...] = (64, 256)
    concurrent_stream_cells: tuple[str, ...] = ("bare", "all-on")
    open_loop_fractions: tuple[float, ...] = (0.25, 0.5, 0.75)
    open_loop_cells: tuple[str, ...] = ("bare", "all-on")
    open_loop_s: float = 10.0
    simulator_ceiling_s: float = 5.0
    writer_bench: bool = True


PROFILES: dict[str, Profile] = {
    "full": Profile(
        name="full",
        cells=("bare", "bare-httpx", "logging", "otel", "guardrails-1k", "guardrails-10k", "all-on",
               "all-on-store-down"),
        peers=("portkey", "litellm"),
    ),
    "transport": Profile(
        name="transport", cells=("bare", "bare-httpx-aiohttp", "bare-httpx"), sweep_cells=(),
        transport_connections=(64, 256),
        cell_connections=(64, 256), concurrent_streams=(), open_loop_fractions=(), writer_bench=False,
    ),
    "peers": Profile(
        name="peers", cells=("bare",), peers=("portkey", "litellm"), concurrent_streams=(64, 256),
        concurrent_stream_cells=("bare",), open_loop_fractions=(), writer_bench=False,
    ),
    "quick": Profile(
        name="quick", cells=("bare", "all-on"), reps=1, warmup_s=2.0, overhead_rounds=3, overhead_pairs=100,
        overhead_warmup=20, throughput_s=8.0, sweep_connections=(64,), sweep_cells=(), cell_connections=(64,),
        cpu_s=6.0, stream_pairs=8, concurrent_streams=(), open_loop_fractions=(), simulator_ceiling_s=3.0,
        writer_bench=False,
    ),
    "tiny": Profile(
        name="tiny", cells=("bare",), reps=1, warmup_s=1.0, overhead_rounds=2, overhead_pairs=30,
        overhead_warmup=5, throughput_s=2.0, sweep_connections=(16,), sweep_cells=(), cell_connections=(16,),
        cpu_s=2.0, cpu_connections=8, stream_pairs=2, concurrent_streams=(8,), concurrent_stream_cells=("bare",),
        open_loop_fractions=(), simulator_ceiling_s=1.0, writer_bench=False,
    ),
}
