"""Deterministic content: pieces, words, schema-shaped tool arguments, stop sequences, embeddings."""

from __future__ import annotations

import math

from gateway.simulator.content import (
    Prompt,
    ToolSpec,
    Tuning,
    build_reply,
    count_words,
    embedding_vector,
    split_pieces,
    value_for_schema,
)


def prompt(text: str, **extra) -> Prompt:
    return Prompt(model="m", texts=[text], last_user_text=text, seed_material=text.encode(), **extra)


def test_split_pieces_round_trips_whitespace() -> None:
    for text in ["", "   ", "one", " lead", "a  b\n\tc ", "<b>x</b> y"]:
        assert "".join(split_pieces(text)) == text
    assert split_pieces("a  b c") == ["a", "  b", " c"]


def test_count_words_minimum_one() -> None:
    assert count_words([""]) == 1
    assert count_words(["a b", "c"]) == 3


def test_generated_reply_is_deterministic_and_seed_sensitive() -> None:
    first = build_reply(prompt("hi"), 8, 0, Tuning())
    again = build_reply(prompt("hi"), 8, 0, Tuning())
    other_instance = build_reply(prompt("hi"), 8, 1, Tuning())
    assert first.text == again.text
    assert first.text != other_instance.text
    assert first.completion_tokens == 8 == len(first.pieces)
    assert first.finish == "stop"


def test_max_tokens_limits_echo_and_words() -> None:
    echo = build_reply(prompt("echo: a b c d", max_tokens=2), 16, 0, Tuning())
    words = build_reply(prompt("x", max_tokens=16), 16, 0, Tuning())
    assert echo.text == "a b"
    assert echo.finish == "length"
    assert words.finish == "stop"


def test_tokens_override() -> None:
    assert build_reply(prompt("x"), 16, 0, Tuning(tokens=3)).completion_tokens == 3
    assert build_reply(prompt("x"), 16, 0, Tuning(tokens=0)).text == ""


def test_stop_sequence_inside_a_piece() -> None:
    reply = build_reply(prompt("echo: abcXYZdef ghi", stop=["XYZ"]), 16, 0, Tuning())
    assert reply.text == "abc"
    assert reply.finish == "stop_sequence"
    assert reply.stop_sequence == "XYZ"


def test_schema_values() -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "count": {"type": "integer"},
            "ratio": {"type": "number"},
            "flag": {"type": "boolean"},
            "mode": {"enum": ["fast", "slow"]},
            "fixed": {"const": 42},
            "maybe": {"type": ["null", "string"]},
            "items": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "INTEGER"}}}},
        },
    }
    value = value_for_schema(schema, "root", 123)
    assert isinstance(value["name"], str)
    assert isinstance(value["count"], int)
    assert isinstance(value["ratio"], float)
    assert value["flag"] is True
    assert value["mode"] == "fast"
    assert value["fixed"] == 42
    assert isinstance(value["maybe"], str)
    assert isinstance(value["items"][0]["id"], int)
    assert value == value_for_schema(schema, "root", 123)


def test_recursive_schema_depth_is_bounded() -> None:
    node: dict = {"type": "object", "properties": {}}
    node["properties"]["child"] = node
    value = value_for_schema(node, "root", 1)
    depth = 0
    while value:
        value = value["child"]
        depth += 1
    assert depth <= 7


def test_tool_none_mode_never_calls() -> None:
    tools = [ToolSpec(name="t", parameters={"type": "object", "properties": {}})]
    reply = build_reply(prompt("tool:t", tools=tools, tool_mode="none"), 4, 0, Tuning())
    assert reply.tool_calls == []
    forced = build_reply(prompt("hello", tools=tools, tool_mode="required"), 4, 0, Tuning())
    assert [call.name for call in forced.tool_calls] == ["t"]
    assert forced.finish == "tool_calls"


def test_embedding_vector_unit_and_deterministic() -> None:
    vector = embedding_vector("text", 40, 0)
    assert len(vector) == 40
    assert math.isclose(sum(v * v for v in vector), 1.0, rel_tol=1e-9)
    assert vector == embedding_vector("text", 40, 0)
    assert vector != embedding_vector("text!", 40, 0)
