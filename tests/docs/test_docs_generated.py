"""The generated doc sections match docs/generate.py, and hand-written lists cover what the code defines."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
OWN_DOCS = ("index.md", "quickstart.md", "architecture.md", "configuration.md", "headers.md", "guardrails.md",
            "observability.md", "security.md", "migrating-from-portkey.md", "migrating-from-litellm.md")


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_generated_sections_are_current() -> None:
    """Run `.venv/bin/python docs/generate.py` when this fails."""
    generator = load_generator()
    assert generator.stale_files() == [], "regenerate the docs: .venv/bin/python docs/generate.py"


def test_docs_generator_covers_every_settings_struct() -> None:
    """Every Struct reachable from PortcullisSettings has a section in the reference."""
    import msgspec

    from schemas.settings import PortcullisSettings

    generator = load_generator()
    _, components = msgspec.json.schema_components([PortcullisSettings])
    documented = {cls.__name__ for _, _, cls in generator.settings_sections()}
    assert set(components) <= documented


def test_docs_generator_lists_every_guardrail_and_table() -> None:
    from guardrails.registry import load_guardrails

    guardrails_doc = (DOCS / "guardrails.md").read_text()
    for check_id in load_guardrails():
        assert f"### `{check_id}`" in guardrails_doc
    observability = (DOCS / "observability.md").read_text()
    for sql in (ROOT / "schemas" / "clickhouse").glob("*.sql"):
        for table in re.findall(r"CREATE TABLE IF NOT EXISTS \{database\}\.(\w+)\{local\}", sql.read_text()):
            assert f"### `{table}`" in observability


def test_docs_observability_names_every_semconv_name() -> None:
    """Every attribute and metric name spelled in semconv.py / metrics.py appears in observability.md."""
    observability = (DOCS / "observability.md").read_text()
    names = re.findall(r'^[A-Z_]+ = "([a-z_][a-z0-9_.]*)"', (ROOT / "gateway/telemetry/semconv.py").read_text(),
                       re.MULTILINE)
    names += re.findall(r'\("(portcullis\.[a-z_.]+)"', (ROOT / "gateway/telemetry/metrics.py").read_text())
    skip = {"_OTHER"}
    missing = sorted({name for name in names if name not in skip and f"`{name}`" not in observability
                      and name not in observability})
    assert not missing, f"not documented in docs/observability.md: {missing}"


def test_docs_headers_cover_every_header_read_or_set() -> None:
    headers_doc = (DOCS / "headers.md").read_text()
    sources = [ROOT / "gateway" / name for name in ("pipeline.py", "attempts.py", "auth.py", "embeddings.py")]
    sources.append(ROOT / "gateway/limits/limiter.py")
    names = set()
    for source in sources:
        names |= set(re.findall(r'"((?:x-portcullis|x-portkey|x-ratelimit)-[a-z-]+)"', source.read_text()))
    missing = sorted(name for name in names if name not in headers_doc)
    assert not missing, f"not documented in docs/headers.md: {missing}"


def test_docs_guardrails_list_every_portkey_check() -> None:
    from schemas import guardrails

    doc = (DOCS / "guardrails.md").read_text()
    missing = [name for name in guardrails._PORTKEY_CHECKS if f"`default.{name}`" not in doc]
    assert not missing, f"Portkey checks not in docs/guardrails.md: {missing}"


def test_docs_index_links_every_doc() -> None:
    index = (DOCS / "index.md").read_text()
    missing = [path.name for path in DOCS.glob("*.md") if path.name != "index.md" and f"({path.name}" not in index]
    assert not missing, f"docs/index.md does not link: {missing}"


def test_docs_relative_links_resolve() -> None:
    """Every relative Markdown link in the docs points at an existing file (anchors are not checked)."""
    broken = []
    for path in (DOCS / name for name in OWN_DOCS):
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (path.parent / target).exists():
                broken.append(f"{path.name} → {target}")
    assert not broken, broken
