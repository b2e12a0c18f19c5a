"""Guardrail latency/CPU per check and text size, the default input chain, and event-loop lag under PII load.

Run: .venv/bin/python bench/guardrails_bench.py  (prints Markdown tables)
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time

from guardrails.pii_engine import PiiEngine
from guardrails.runner import GuardrailRunner
from schemas.guardrails import CheckContext, GuardrailChain, GuardrailCheckConfig

SIZES = {"200 B": 200, "1 KB": 1_000, "10 KB": 10_000, "100 KB": 100_000}
PROSE = (
    "Thanks for the update on the quarterly report. The migration finished on schedule and the new "
    "dashboards look good. Please send the draft to alice@example.com before Friday, or call me on "
    "(212) 555-0188 if anything is unclear. We still need to review the budget and the hiring plan. "
)
CHECKS = {
    "pii": {},
    "regex": {"patterns": [r"\b\d{3}-\d{2}-\d{4}\b", r"(?i)\bsk-[a-z0-9]{20,}\b", r"AKIA[0-9A-Z]{16}"]},
    "length": {"max_words": 100_000, "min_chars": 1},
    "contains": {"words": ["password", "confidential", "internal only"], "operator": "none"},
    "json_schema": {
        "schema": {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"id": {"type": "integer"}, "text": {"type": "string"}},
                        "required": ["id", "text"],
                    },
                }
            },
            "required": ["items"],
        }
    },
}
DEFAULT_INPUT_CHAIN = [
    GuardrailCheckConfig(id="pii", action="redact"),
    GuardrailCheckConfig(id="regex", params=CHECKS["regex"]),
    GuardrailCheckConfig(id="length", params={"max_tokens": 32_000}),
]


def _text(size: int) -> str:
    return (PROSE * (size // len(PROSE) + 1))[:size]


def _body(check_id: str, size: int) -> tuple[str, dict]:
    if check_id == "json_schema":
        items, n = [], 0
        while len(json.dumps({"items": items})) < size:
            items.append({"id": n, "text": "lorem ipsum dolor sit amet"})
            n += 1
        return "output", {"choices": [{"message": {"content": json.dumps({"items": items})}}]}
    return "input", {"model": "gpt-4o", "messages": [{"role": "user", "content": _text(size)}]}


def _iterations(size: int) -> int:
    return 300 if size <= 1_000 else 60 if size <= 10_000 else 8


async def _measure(
    runner: GuardrailRunner, checks: list[GuardrailCheckConfig], stage: str, body: dict, n: int
) -> tuple[float, float, float]:
    chain = runner.compile(GuardrailChain(checks=checks), stage)
    ctx = CheckContext(stage=stage, model="gpt-4o", metadata={"team": "a"})
    for _ in range(3):
        await runner.run(stage, chain, body, ctx)
    walls, cpus = [], []
    for _ in range(n):
        wall, cpu = time.perf_counter(), time.process_time()  # process CPU includes the worker thread
        outcome = await runner.run(stage, chain, body, ctx)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
        assert not any(r.verdict == "error" for r in outcome.results), outcome.results
    walls.sort()
    p99 = walls[min(len(walls) - 1, int(len(walls) * 0.99))]
    return statistics.median(walls), p99, statistics.mean(cpus)


async def _loop_lag(runner: GuardrailRunner, size: int) -> tuple[float, float, float]:
    """Max and p99 lateness of a 1 ms ticker on the event loop while a PII check on `size` chars runs."""
    chain = runner.compile(
        GuardrailChain(checks=[GuardrailCheckConfig(id="pii", timeout_ms=60_000)]), "input"
    )
    body = _body("pii", size)[1]
    lateness: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            lateness.append((time.perf_counter() - before - 0.001) * 1000)

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    await runner.run("input", chain, body, CheckContext(stage="input"))
    check_ms = (time.perf_counter() - started) * 1000
    done.set()
    await task
    lateness.sort()
    return check_ms, lateness[int(len(lateness) * 0.99)], lateness[-1]


async def main() -> None:
    started = time.perf_counter()
    engine = PiiEngine()
    build_s = time.perf_counter() - started
    runner = GuardrailRunner(pii_engine=engine, hash_secret=b"bench-secret-0123456789")
    print(f"PII engine build + warm-up: {build_s:.2f} s, phone regions {engine.phone_regions}\n")
    print("| check | size | p50 ms | p99 ms | CPU ms/call |")
    print("|---|---|---|---|---|")
    for check_id, params in CHECKS.items():
        for label, size in SIZES.items():
            stage, body = _body(check_id, size)
            p50, p99, cpu = await _measure(
                runner,
                [GuardrailCheckConfig(id=check_id, params=params, timeout_ms=60_000)],
                stage,
                body,
                _iterations(size),
            )
            print(f"| {check_id} | {label} | {p50:.3f} | {p99:.3f} | {cpu:.3f} |")
    for check_id, params in (
        ("model_allowlist", {"models": ["gpt-4o*"]}),
        ("required_metadata", {"keys": ["team"]}),
    ):
        p50, p99, cpu = await _measure(
            runner, [GuardrailCheckConfig(id=check_id, params=params)], "input", _body(check_id, 200)[1], 300
        )
        print(f"| {check_id} | any | {p50:.3f} | {p99:.3f} | {cpu:.3f} |")
    print("\n| default input chain (pii redact + regex + length) | p50 ms | p99 ms | CPU ms/call |")
    print("|---|---|---|---|")
    for label in ("200 B", "1 KB", "10 KB"):
        p50, p99, cpu = await _measure(
            runner, DEFAULT_INPUT_CHAIN, "input", _body("pii", SIZES[label])[1], _iterations(SIZES[label])
        )
        print(f"| {label} | {p50:.3f} | {p99:.3f} | {cpu:.3f} |")
    check_ms, lag_p99, lag_max = await _loop_lag(runner, 100_000)
    print("\n| event-loop lag during one 100 KB pii check | check ms | ticker lateness p99 ms | max ms |")
    print("|---|---|---|---|")
    print(f"| 1 ms ticker | {check_ms:.1f} | {lag_p99:.2f} | {lag_max:.2f} |")
    runner.close()
    engine.close()


if __name__ == "__main__":
    asyncio.run(main())
