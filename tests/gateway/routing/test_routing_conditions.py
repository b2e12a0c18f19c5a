"""Conditional-routing query operators over metadata and params."""

from __future__ import annotations

from typing import Any

import pytest
from routing_testkit import raises_config_error

from gateway.routing.conditions import compile_query

META = {"plan": "paid", "tier": "3", "env": "dev"}
PARAMS: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "temperature": 0.2,
    "max_tokens": 500,
    "stream": True,
    "response_format": {"type": "json_object"},
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"metadata.plan": "paid"}, True),
        ({"metadata.plan": "free"}, False),
        ({"metadata.plan": {"$eq": "paid"}}, True),
        ({"metadata.plan": {"$ne": "paid"}}, False),
        ({"metadata.missing": {"$ne": "x"}}, True),
        ({"metadata.missing": "x"}, False),
        ({"params.max_tokens": {"$gt": 499}}, True),
        ({"params.max_tokens": {"$gt": 500}}, False),
        ({"params.max_tokens": {"$gte": 500}}, True),
        ({"params.temperature": {"$lt": 0.5}}, True),
        ({"params.temperature": {"$lte": 0.1}}, False),
        ({"metadata.tier": {"$gte": 3}}, True),  # metadata strings compare as numbers
        ({"params.model": {"$gt": "gpt-3"}}, True),  # string ordering
        ({"params.model": {"$in": ["gpt-4o", "gpt-4o-mini"]}}, True),
        ({"params.model": {"$nin": ["gpt-4o", "gpt-4o-mini"]}}, False),
        ({"metadata.env": {"$nin": ["prod"]}}, True),
        ({"params.model": {"$regex": "^gpt-4o"}}, True),
        ({"params.model": {"$regex": "mini$"}}, True),
        ({"params.temperature": {"$regex": "0"}}, False),  # regex only matches strings
        ({"params.stream": True}, True),
        ({"params.stream": 1}, False),  # no bool/int confusion
        ({"params.response_format.type": "json_object"}, True),
        ({"$and": [{"metadata.plan": "paid"}, {"params.stream": True}]}, True),
        ({"$and": [{"metadata.plan": "paid"}, {"params.stream": False}]}, False),
        ({"$or": [{"metadata.plan": "free"}, {"metadata.env": "dev"}]}, True),
        ({"$or": [{"metadata.plan": "free"}, {"metadata.env": "prod"}]}, False),
        ({"metadata.plan": "paid", "metadata.env": "prod"}, False),  # several keys: all must match
        ({"params.max_tokens": {"$gt": 100, "$lt": 1000}}, True),
    ],
)
def test_routing_condition_operators(query: dict[str, Any], expected: bool) -> None:
    assert compile_query(query, "q")(META, PARAMS) is expected


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ({"url.pathname": "/x"}, "q.url.pathname"),
        ({"params.a.b.c": 1}, "q.params.a.b.c"),
        ({"metadata.plan": {"$like": "p%"}}, "q.metadata.plan.$like"),
        ({"$xor": []}, "q.$xor"),
        ({"$and": []}, "q.$and"),
        ({"params.model": {"$in": "gpt"}}, "q.params.model.$in"),
        ({"params.model": {"$gt": [1]}}, "q.params.model.$gt"),
        ({"params.model": {"$regex": "(?<=a)b"}}, "q.params.model.$regex"),
        ({"params.model": {"$eq": 1, "plain": 2}}, "q.params.model"),
    ],
)
def test_routing_condition_errors_name_the_path(query: dict[str, Any], param: str) -> None:
    error = raises_config_error(lambda: compile_query(query, "q"))
    assert error.param == param, error.message
