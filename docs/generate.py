"""Regenerates the generated sections of the docs (config reference, guardrail params, ClickHouse tables).

Run from the project root:

    .venv/bin/python docs/generate.py           # rewrite the sections between the markers
    .venv/bin/python docs/generate.py --check   # exit 1 when a committed doc differs from the generator

A generated section sits between `<!-- generated:NAME start -->` and `<!-- generated:NAME end -->`;
everything outside the markers is hand-written and left alone. tests/docs/test_docs_generated.py runs the
check, so a change to a config Struct, a guardrail's Params or a migration fails the suite until the docs
are regenerated.
"""

from __future__ import annotations

import argparse
import inspect
import io
import re
import sys
import tokenize
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: the project packages must import
    sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402

DOCS = ROOT / "docs"
MIGRATIONS = ROOT / "schemas" / "clickhouse"
_MARKER = re.compile(
    r"(<!-- generated:(?P<name>[a-z0-9_-]+) start -->\n)(?P<body>.*?)(<!-- generated:(?P=name) end -->)", re.DOTALL
)


# --- source comments ---------------------------------------------------------------------------------------------


def field_comments(cls: type) -> dict[str, str]:
    """Comments of a Struct's fields: a trailing `# ...` on the field line, else the comment lines just above it."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    comments: dict[str, str] = {}
    above: list[str] = []
    lines = source.splitlines()
    for line in lines[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("#").strip())
            continue
        match = re.match(r"\s+([A-Za-z_][A-Za-z0-9_]*)\s*:", line)
        if match and not stripped.startswith(("def ", "class ", '"""')):
            trailing = _trailing_comment(line)
            text = trailing or " ".join(above)
            if text:
                comments[match.group(1)] = text
        above = []
    return comments


def _trailing_comment(line: str) -> str:
    """The `# comment` at the end of one source line (tokenized, so a `#` inside a string is not one)."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline):
            if token.type == tokenize.COMMENT:
                return token.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return ""
    return ""


# --- JSON Schema → Markdown -------------------------------------------------------------------------------------


def render_type(schema: dict[str, Any]) -> str:
    """A readable type from a msgspec JSON Schema fragment (no `|`, which would break a Markdown table)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "enum" in schema:
        return " or ".join(f'`{msgspec.json.encode(v).decode()}`' for v in schema["enum"])
    if "const" in schema:
        return f"`{msgspec.json.encode(schema['const']).decode()}`"
    if "anyOf" in schema:
        return " or ".join(render_type(part) for part in schema["anyOf"])
    kind = schema.get("type")
    bounds = _bounds(schema)
    if kind == "array":
        return f"list of {render_type(schema.get('items', {}))}{bounds}"
    if kind == "object":
        values = schema.get("additionalProperties")
        if isinstance(values, dict):
            return f"map of string → {render_type(values)}"
        return "map of string → any"
    if kind == "string" and schema.get("format") == "date-time":
        return "datetime (RFC 3339)"
    if isinstance(kind, str):
        return {"integer": "int", "number": "float", "boolean": "bool", "string": "string", "null": "null"}.get(
            kind, kind) + bounds
    return "any"


def _bounds(schema: dict[str, Any]) -> str:
    parts = []
    for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<")):
        if key in schema:
            parts.append(f"{sign} {schema[key]}")
    return f" ({', '.join(parts)})" if parts else ""


def _default_text(cls: type, name: str, prop: dict[str, Any]) -> str:
    field = next(f for f in msgspec.structs.fields(cls) if f.name == name)
    if field.required:
        return "**required**"
    value = field.default if field.default is not msgspec.NODEFAULT else field.default_factory()
    if isinstance(value, msgspec.Struct):
        return "see below"
    text = msgspec.json.encode(value).decode()
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1 << 20 and value % (1 << 20) == 0:
        text += f" ({value >> 20} MiB)"
    return f"`{text}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def struct_table(cls: type, *, extra_comments: dict[str, str] | None = None) -> str:
    """One Markdown table: field, type, default, description (from the field's source comment)."""
    (_, ), components = msgspec.json.schema_components([cls])
    schema = components[cls.__name__]
    comments = {**field_comments(cls), **(extra_comments or {})}
    rows = ["| field | type | default | description |", "|---|---|---|---|"]
    for name, prop in schema.get("properties", {}).items():
        rows.append(
            f"| `{name}` | {_cell(render_type(prop))} | {_cell(_default_text(cls, name, prop))} "
            f"| {_cell(comments.get(name, ''))} |"
        )
    return "\n".join(rows)


def _doc(cls: type) -> str:
    return inspect.cleandoc(cls.__doc__ or "").replace("\n", " ")


# --- the server config reference ------------------------------------------------------------------------------


def settings_sections() -> list[tuple[str, str, type]]:
    """(heading, where in portcullis.yaml, Struct) for every section of the server config file, in file order."""
    from schemas.keys import FallbackPrice, KeySettings, TeamLimits
    from schemas.settings import (
        GuardrailDefaults,
        GuardrailSettings,
        LoggingPolicy,
        PolicySettings,
        PortcullisSettings,
        PriceOverride,
        ProviderSettings,
        ServerSettings,
        StoreSettings,
        TelemetrySettings,
    )
    from schemas.ui import UiSettings, UiUser, UsagePlan

    return [
        ("PortcullisSettings", "the top level of the file", PortcullisSettings),
        ("ProviderSettings", "`providers.<name>`", ProviderSettings),
        ("ServerSettings", "`server:`", ServerSettings),
        ("StoreSettings", "`store:`", StoreSettings),
        ("TelemetrySettings", "`telemetry:`", TelemetrySettings),
        ("PolicySettings", "`policy:`", PolicySettings),
        ("LoggingPolicy", "`logging:`", LoggingPolicy),
        ("GuardrailSettings", "`guardrails:`", GuardrailSettings),
        ("GuardrailDefaults", "`guardrails.teams.<team>`", GuardrailDefaults),
        ("PriceOverride", "`prices.<provider/model or model>`", PriceOverride),
        ("KeySettings", "`keys:`", KeySettings),
        ("TeamLimits", "`keys.teams.<team>`", TeamLimits),
        ("FallbackPrice", "`keys.unpriced_model_price`", FallbackPrice),
        ("UiSettings", "`ui:`", UiSettings),
        ("UiUser", "`ui.users.<username>`", UiUser),
        ("UsagePlan", "`ui.plan`", UsagePlan),
    ]


# Descriptions for fields whose source line has no comment, written from the code that reads them.
# Keys are "Struct.field"; a key naming a field that no longer exists fails the generator (and the drift test).
FIELD_NOTES: dict[str, str] = {
    "PortcullisSettings.providers": "provider name -> upstream; the names are what configs and models refer to",
    "PortcullisSettings.server": "listener and request limits",
    "PortcullisSettings.store": "ClickHouse DSN and the durable spool",
    "PortcullisSettings.telemetry": "OpenTelemetry export and Prometheus",
    "PortcullisSettings.policy": "caps applied to every routing config",
    "PortcullisSettings.logging": "what is recorded by default",
    "PortcullisSettings.guardrails": "server guardrail chains and the PII engine",
    "PortcullisSettings.ui": "the /ui trace browser (needs `secret`)",
    "ProviderSettings.default_max_tokens": "max_tokens sent when the provider requires one and the request has none "
                                          "(Anthropic)",
    "ProviderSettings.timeout_s": "per-attempt timeout; a config's request_timeout and the request deadline may cut "
                                  "it shorter",
    "ServerSettings.host": "bind address (`portcullis serve --host` overrides)",
    "ServerSettings.port": "bind port (`--port` overrides)",
    "ServerSettings.max_body_bytes": "larger request bodies get 413",
    "ServerSettings.max_header_config_bytes": "largest inline `x-portcullis-config`",
    "ServerSettings.max_metadata_bytes": "largest `x-portcullis-metadata`",
    "ServerSettings.upstream_connect_timeout_s": "TCP/TLS connect timeout to providers",
    "ServerSettings.upstream_pool_size": "connection pool size of the shared upstream client",
    "ServerSettings.transport": "upstream HTTP client: httpx API on an aiohttp transport (faster under "
                                "concurrency), or plain httpx",
    "ServerSettings.default_request_timeout_s": "deadline of a whole request, all retries and fallbacks included",
    "ServerSettings.stream_idle_timeout_s": "a stream with no upstream bytes for this long is cut with an error event",
    "StoreSettings.dsn": "`chdb:///path` (embedded, one process) or `http(s)://user:pass@host:8123`; `env:` allowed",
    "StoreSettings.database": "created if missing; migrations are applied at start",
    "StoreSettings.spool_dir": "local segment files not yet in ClickHouse (keep it on a persistent volume)",
    "StoreSettings.body_ttl_days": "request/response bodies are dropped after this (column TTL)",
    "StoreSettings.row_ttl_days": "rows are deleted after this (table TTL; the audit log has none)",
    "StoreSettings.flush_interval_ms": "a spool segment is sealed and flushed at least this often",
    "StoreSettings.batch_rows": "records per segment / INSERT batch",
    "StoreSettings.fsync_window_ms": "group-commit window: spooled records are fsynced at least this often",
    "StoreSettings.spool_max_bytes": "disk cap: above 90 % bodies are stripped, above 100 % records are dropped "
                                     "(counted)",
    "StoreSettings.cluster": "ClickHouse cluster name: Replicated tables ON CLUSTER plus Distributed tables",
    "TelemetrySettings.service_name": "`service.name` resource attribute (OTEL_SERVICE_NAME wins)",
    "TelemetrySettings.capture_message_content": "put input messages on attempt spans "
                                                 "(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT wins)",
    "TelemetrySettings.spans_to_clickhouse": "also write every span to the ClickHouse `spans` table (the UI waterfall)",
    "TelemetrySettings.prometheus": "serve metrics on GET /metrics",
    "PolicySettings.max_attempts": "cap on a config's `retry.attempts`",
    "PolicySettings.max_depth": "deepest target nesting a config may have",
    "PolicySettings.max_targets": "most targets in one config tree",
    "PolicySettings.max_request_timeout_ms": "cap on a config's `request_timeout`",
    "PolicySettings.max_retry_after_s": "a provider's Retry-After longer than this is not waited for (fall back "
                                        "at once)",
    "PolicySettings.retry_budget_ratio": "retries allowed per request over a 10 s window, process-wide",
    "PolicySettings.retry_budget_min": "retries always allowed in the window, whatever the ratio",
    "PolicySettings.cooldown_failures": "consecutive failures that take a target out of rotation",
    "PolicySettings.cooldown_s": "how long a failing target rests (times the number of ejections, capped)",
    "PolicySettings.allow_inline_configs": "false: callers may only name configs defined in this file",
    "PolicySettings.cache_max_bytes": "size of the in-memory response cache (per process)",
    "LoggingPolicy.default": "full: bodies kept (redacted); metadata: no bodies; off: no request row",
    "LoggingPolicy.max_body_bytes": "stored bodies are truncated to this",
    "GuardrailSettings.input": "checks run on every request",
    "GuardrailSettings.output": "checks run on every answer",
    "GuardrailSettings.teams": "team -> extra chains, run after the global ones",
    "GuardrailSettings.stream_output_mode": "output checks on streams: hold, check as it goes, or check after",
    "GuardrailSettings.output_deny": "a denied answer: 200 with finish_reason content_filter, or a 400 error",
    "GuardrailSettings.phone_regions": "national phone formats the PII engine recognises",
    "GuardrailSettings.ner": "PERSON/LOCATION/NRP detection; needs `pip install '.[ner]'`",
    "TeamLimits.budget_usd": "spend cap per period for all keys of the team; none = no budget",
    "TeamLimits.budget_period": "calendar period of the budget (UTC)",
    "TeamLimits.rpm": "requests per minute for the team",
    "TeamLimits.tpm": "tokens per minute for the team (estimated before the call, corrected after)",
    "FallbackPrice.input": "USD per million input tokens",
    "FallbackPrice.output": "USD per million output tokens",
    "UiSettings.enabled": "false: /ui is not mounted",
    "UiSettings.session_ttl_s": "session cookie lifetime",
    "UiSettings.login_window_s": "window of the failed-login limits",
    "UiSettings.page_size": "rows per page in the trace list",
    "UiSettings.plan": "billing plan shown on the usage page",
    "UiUser.role": "admin: everything incl. the audit trail; auditor: read-only",
    "UsagePlan.name": "plan name shown on the usage page",
    "UsagePlan.free_logs_per_month": "recorded requests included per team and month",
    "UsagePlan.block_size": "logs per billed block beyond the allowance",
    "UsagePlan.price_per_block_usd": "price of one started block",
}


def _notes_for(cls: type) -> dict[str, str]:
    prefix = f"{cls.__name__}."
    return {key[len(prefix):]: text for key, text in FIELD_NOTES.items() if key.startswith(prefix)}


def check_field_notes() -> None:
    """Every FIELD_NOTES key names an existing field (a renamed field must not keep a stale description)."""
    known = {f"{cls.__name__}.{f.name}" for _, _, cls in settings_sections() for f in msgspec.structs.fields(cls)}
    stale = sorted(set(FIELD_NOTES) - known)
    if stale:
        raise KeyError(f"FIELD_NOTES names fields that do not exist: {stale}")


def render_settings_reference() -> str:
    """Every section of portcullis.yaml as a heading, its docstring and a field table."""
    check_field_notes()
    out = []
    for heading, where, cls in settings_sections():
        comments = field_comments(cls)
        notes = {name: text for name, text in _notes_for(cls).items() if name not in comments}
        table = struct_table(cls, extra_comments=notes)
        out.append(f"### {heading}\n\n{where} ({cls.__module__}.{cls.__name__}). {_doc(cls)}\n\n{table}\n")
    return "\n".join(out)


def render_guardrail_check_reference() -> str:
    """Native guardrail check config (one item of a chain) and the chain itself."""
    from schemas.guardrails import GuardrailChain, GuardrailCheckConfig

    out = []
    for cls in (GuardrailCheckConfig, GuardrailChain):
        out.append(f"### {cls.__name__}\n\n{_doc(cls)}\n\n{struct_table(cls)}\n")
    return "\n".join(out)


def render_routing_summary() -> str:
    """Top-level fields of the routing config (schemas/config.py ConfigNode), linking to docs/config.md."""
    from schemas.config import ConfigNode

    return (f"`schemas.config.ConfigNode`: {_doc(ConfigNode)} Semantics: [config.md](config.md).\n\n"
            f"{struct_table(ConfigNode)}\n")


# --- guardrail params -------------------------------------------------------------------------------------------


def _nested_structs(cls: type) -> list[type]:
    """Struct types used inside a Params Struct's fields (e.g. pii's CustomPattern)."""
    found: list[type] = []

    def visit(info: Any) -> None:
        if isinstance(info, msgspec.inspect.StructType):
            if info.cls not in found and info.cls is not cls:
                found.append(info.cls)
            return
        for attr in ("item_type", "key_type", "value_type"):
            if hasattr(info, attr):
                visit(getattr(info, attr))
        for sub in getattr(info, "types", ()) or ():
            visit(sub)

    root = msgspec.inspect.type_info(cls)
    for field in root.fields:
        visit(field.type)
    return found


def render_guardrail_params() -> str:
    """One section per check found by guardrails.registry: stages, defaults and its Params table."""
    from guardrails.registry import load_guardrails

    out = []
    for check_id, guardrail in sorted(load_guardrails().items()):
        params = guardrail.Params
        stages = ", ".join(sorted(guardrail.stages))
        offload = guardrail.offload_at_chars
        offload_text = ("always (in the worker thread)" if offload == 0 else "never" if offload < 0
                        else f"from {offload:,} characters of text")
        out.append(
            f"### `{check_id}`\n\n"
            f"{_doc(params)}\n\n"
            f"| stages | on error (default) | can redact | runs off the event loop |\n|---|---|---|---|\n"
            f"| {stages} | fail {guardrail.default_on_error} | {'yes' if guardrail.can_redact else 'no'} "
            f"| {offload_text} |\n\n"
            f"{struct_table(params)}\n"
        )
        for nested in _nested_structs(params):
            out.append(f"#### {nested.__name__}\n\n{_doc(nested)}\n\n{struct_table(nested)}\n")
    return "\n".join(out)


# --- ClickHouse tables --------------------------------------------------------------------------------------------

_CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS \{database\}\.(?P<table>\w+)\{local\}[^\n]*\n\((?P<body>.*?)\n\)\n"
                     r"(?P<tail>.*?);", re.DOTALL)


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def _column(definition: str) -> tuple[str, str, str]:
    """`name Type [CODEC(...)] [TTL ...]` → (name, type, notes)."""
    name, _, rest = definition.partition(" ")
    depth, end = 0, len(rest)
    for index, char in enumerate(rest):
        depth += (char == "(") - (char == ")")
        if depth == 0 and rest[index:index + 1] == " ":
            end = index
            break
    column_type, notes = rest[:end], rest[end:].strip()
    if "TTL" in notes:
        notes = "TTL " + notes.split("TTL", 1)[1].strip()
    elif notes.startswith("CODEC"):
        notes = ""
    notes = notes.replace("{body_ttl_days}", "store.body_ttl_days")
    return name, column_type, notes


def _row_comments() -> dict[str, dict[str, str]]:
    """Column descriptions from the log-row Structs that map 1:1 to the tables (schemas/log.py)."""
    from schemas.log import AttemptLog, AuditRow, GuardrailRow, RequestLog, SpanRow

    attempts = {f"attempt_{name}": text for name, text in field_comments(AttemptLog).items()}
    return {
        "requests": {**field_comments(RequestLog), **attempts},
        "guardrail_results": field_comments(GuardrailRow),
        "spans": field_comments(SpanRow),
        "audit_log": field_comments(AuditRow),
    }


_ENGINES = {"{merge_tree}": "MergeTree", "{replacing_merge_tree}": "ReplacingMergeTree",
            "{summing_merge_tree}": "SummingMergeTree"}


def _table_facts(tail: str) -> list[str]:
    """Engine, partition, ORDER BY and row TTL from the clause lines after the column list."""
    facts = []
    for line in tail.splitlines():
        line = line.strip()
        for keyword, label in (("ENGINE = ", "engine"), ("PARTITION BY ", "partition"), ("ORDER BY ", "order by"),
                               ("TTL ", "row TTL")):
            if line.startswith(keyword):
                value = line[len(keyword):]
                for placeholder, engine in _ENGINES.items():
                    value = value.replace(placeholder, engine)
                value = value.replace("{row_ttl_days}", "store.row_ttl_days")
                facts.append(f"{label} `{value}`")
    return facts


def _header_comments(sql: str) -> str:
    lines = [line[2:].strip() for line in sql.splitlines() if line.startswith("--")]
    return " ".join(line for line in lines if not line.startswith("distributed:"))


def render_clickhouse_tables() -> str:
    """Every table created by schemas/clickhouse/*.sql: purpose, engine, keys, TTL and a column table."""
    comments = _row_comments()
    out = []
    for path in sorted(MIGRATIONS.glob("*.sql")):
        sql = path.read_text()
        for match in _CREATE.finditer(sql):
            table = match.group("table")
            facts = _table_facts(match.group("tail"))
            rows = ["| column | type | notes |", "|---|---|---|"]
            for definition in _split_top_level(match.group("body")):
                if definition.startswith("INDEX "):
                    continue
                name, column_type, notes = _column(definition)
                note = " ".join(part for part in (comments.get(table, {}).get(name, ""),
                                                   f"`{notes}`" if notes else "") if part)
                rows.append(f"| `{name}` | `{_cell(column_type)}` | {_cell(note)} |")
            indexes = [d.split()[1] for d in _split_top_level(match.group("body")) if d.startswith("INDEX ")]
            index_text = f" Skip indexes: {', '.join(f'`{i}`' for i in indexes)}." if indexes else ""
            out.append(
                f"### `{table}` ({path.name})\n\n{_header_comments(sql.split('CREATE')[0])}\n\n"
                f"{'; '.join(facts)}.{index_text}\n\n" + "\n".join(rows) + "\n"
            )
        if "CREATE MATERIALIZED VIEW" in sql:
            view = re.search(r"CREATE MATERIALIZED VIEW IF NOT EXISTS \{database\}\.(\w+)\{local\}", sql)
            if view:
                out.append(f"Materialised view `{view.group(1)}` ({path.name}) fills it from `requests` on insert.\n")
    return "\n".join(out)


# --- the files and their sections ----------------------------------------------------------------------------------

SECTIONS: dict[str, dict[str, Callable[[], str]]] = {
    "configuration.md": {
        "settings": render_settings_reference,
        "guardrail-check": render_guardrail_check_reference,
        "routing-fields": render_routing_summary,
    },
    "guardrails.md": {"guardrail-params": render_guardrail_params},
    "observability.md": {"clickhouse-tables": render_clickhouse_tables},
}


def regenerate(text: str, renderers: dict[str, Callable[[], str]], *, source: str = "") -> str:
    """Replace the body of every generated section; a marker without a renderer (or the reverse) is an error."""
    seen: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in renderers:
            raise KeyError(f"{source}: no generator for section {name!r}")
        seen.add(name)
        return f"{match.group(1)}\n{renderers[name]().rstrip()}\n\n{match.group(4)}"

    out = _MARKER.sub(replace, text)
    missing = set(renderers) - seen
    if missing:
        raise KeyError(f"{source}: markers missing for {sorted(missing)}")
    return out


def stale_files(files: Iterable[str] | None = None) -> list[str]:
    """The docs whose generated sections differ from what the generator produces now."""
    stale = []
    for name in files or SECTIONS:
        path = DOCS / name
        text = path.read_text()
        if regenerate(text, SECTIONS[name], source=name) != text:
            stale.append(name)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a doc is out of date; change nothing")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for name in stale:
            print(f"docs/{name} is out of date: run .venv/bin/python docs/generate.py", file=sys.stderr)
        return 1 if stale else 0
    for name, renderers in SECTIONS.items():
        path = DOCS / name
        text = path.read_text()
        new = regenerate(text, renderers, source=name)
        if new != text:
            path.write_text(new)
            print(f"docs/{name}: regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
