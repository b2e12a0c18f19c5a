"""The `portcullis` command: serve, demo, simulate, migrate, config check, keys and users."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from gateway.settings import SettingsError, load_settings

_DEFAULT_CONFIG = os.environ.get("PORTCULLIS_CONFIG", "portcullis.yaml")
_CONFIG_HELP = "path to portcullis.yaml (default: $PORTCULLIS_CONFIG, else ./portcullis.yaml)"


def _serve(args: argparse.Namespace) -> int:
    from gateway.server import run_gateway

    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"portcullis: {exc}", file=sys.stderr)
        return 2
    return run_gateway(settings, host=args.host, port=args.port, log_level=args.log_level)


def _demo(args: argparse.Namespace) -> int:
    from gateway.demo import run_demo

    return run_demo(data_dir=args.data_dir, port=args.port, simulator_port=args.simulator_port,
                    traffic=args.traffic)


def _simulate(args: argparse.Namespace) -> int:
    from gateway.simulator.cli import run

    return run(args)


def _migrate(args: argparse.Namespace) -> int:
    from gateway.lifespan import resolved_store_settings
    from gateway.settings import SecretResolver
    from gateway.store.client import Store

    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"portcullis: {exc}", file=sys.stderr)
        return 2
    store = Store.connect(resolved_store_settings(settings, SecretResolver()))
    try:
        applied = store.migrate()
    finally:
        store.close()
    print(f"applied migrations: {applied}" if applied else "schema is up to date")
    return 0


def _config_check(args: argparse.Namespace) -> int:
    from gateway.providers.registry import discover
    from gateway.routing.schema_file import check_config_file

    problems = check_config_file(args.file, discover())
    for problem in problems:
        print(f"{args.file}: {problem}", file=sys.stderr)
    if not problems:
        print(f"{args.file}: ok")
    return 1 if problems else 0


def _users_add(args: argparse.Namespace) -> int:
    import getpass

    import yaml

    from ui import hash_password

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        print(f"portcullis: {exc}", file=sys.stderr)
        return 2
    entry = {"password_hash": password_hash, "role": args.role, "teams": list(args.teams)}
    print("# add under `ui: users:` in portcullis.yaml")
    print(yaml.safe_dump({args.username: entry}, sort_keys=False).rstrip())
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The full command tree (also used by `portcullis --help`)."""
    parser = argparse.ArgumentParser(
        prog="portcullis",
        description="Portcullis: a self-hosted, observability-first LLM gateway with guardrails and a trace UI.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="run the gateway (API + UI) from a config file")
    serve.add_argument("--config", "-c", default=_DEFAULT_CONFIG, help=_CONFIG_HELP)
    serve.add_argument("--host", default=None, help="bind address (default: server.host from the config)")
    serve.add_argument("--port", type=int, default=None, help="bind port (default: server.port from the config)")
    serve.add_argument("--log-level", default="info", help="log level (debug, info, warning, error)")
    serve.set_defaults(run=_serve)

    demo = commands.add_parser(
        "demo", help="run the simulator and the gateway on an embedded store with a demo config"
    )
    demo.add_argument("--data-dir", default="./.portcullis", help="where the embedded ClickHouse and spool live")
    demo.add_argument("--port", type=int, default=8787, help="gateway port (default 8787)")
    demo.add_argument("--simulator-port", type=int, default=8790, help="simulator port (default 8790)")
    demo.add_argument("--traffic", action="store_true", help="send some sample traffic so the UI has data")
    demo.set_defaults(run=_demo)

    simulate = commands.add_parser("simulate", help="run the upstream LLM simulator (OpenAI/Anthropic/Gemini)")
    from gateway.simulator.cli import add_arguments

    add_arguments(simulate)
    simulate.set_defaults(run=_simulate)

    migrate = commands.add_parser("migrate", help="apply the ClickHouse schema migrations and exit")
    migrate.add_argument("--config", "-c", default=_DEFAULT_CONFIG, help=_CONFIG_HELP)
    migrate.set_defaults(run=_migrate)

    from gateway.keys.cli import add_arguments as add_keys_arguments

    add_keys_arguments(commands)

    users = commands.add_parser("users", help="UI users")
    users_commands = users.add_subparsers(dest="users_command", metavar="SUBCOMMAND", required=True)
    add_user = users_commands.add_parser("add", help="hash a password (argon2id) and print the config entry")
    add_user.add_argument("username")
    add_user.add_argument("--role", choices=("admin", "auditor"), default="auditor")
    add_user.add_argument("--teams", nargs="*", default=[], help="teams an auditor may see (default: all)")
    add_user.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add_user.set_defaults(run=_users_add)

    config = commands.add_parser("config", help="config file tools")
    config_commands = config.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    check = config_commands.add_parser("check", help="validate a config file (server file or routing config)")
    check.add_argument("file", help="portcullis.yaml, or a routing config JSON file")
    check.set_defaults(run=_config_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
