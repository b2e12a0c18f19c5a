"""Command-line glue for the simulator (`portcullis simulate`, `python -m gateway.simulator`)."""

from __future__ import annotations

import argparse

import msgspec

from gateway.simulator.config import SimulatorConfig
from gateway.simulator.faults import decode_fault
from gateway.simulator.runner import serve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the simulator's flags on a parser (or subparser)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8790, help="port to bind (default 8790)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="non-streaming response delay")
    parser.add_argument("--ttft-ms", type=float, default=0.0, help="streaming: delay before the first token")
    parser.add_argument("--inter-token-ms", type=float, default=0.0, help="streaming: delay between tokens")
    parser.add_argument("--tokens", type=int, default=16, help="generated tokens per reply (before max_tokens)")
    parser.add_argument("--seed", type=int, default=0, help="mixed into every generated reply")
    parser.add_argument("--embedding-dimensions", type=int, default=8, help="default embedding size")
    parser.add_argument("--record-limit", type=int, default=10_000, help="recent requests kept for /_sim/requests")
    parser.add_argument("--fault", default=None, help='default fault for every request, JSON e.g. {"status": 503}')
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """The SimulatorConfig the flags describe."""
    return SimulatorConfig(
        latency_ms=args.latency_ms,
        ttft_ms=args.ttft_ms,
        inter_token_ms=args.inter_token_ms,
        default_tokens=args.tokens,
        seed=args.seed,
        embedding_dimensions=args.embedding_dimensions,
        record_limit=args.record_limit,
        fault=decode_fault(args.fault) if args.fault else None,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; 2 when the flags are invalid."""
    try:
        config = config_from_args(args)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        print(f"invalid --fault: {error}")
        return 2
    print(f"simulator listening on http://{args.host}:{args.port}", flush=True)
    serve(config, args.host, args.port, args.log_level)
    return 0
