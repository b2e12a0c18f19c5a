"""Which children of a group to try, in what order: weighted random, fallback order, cooldown skips."""

from __future__ import annotations

import random
from collections.abc import Sequence

from gateway.routing.cooldown import Cooldown
from gateway.routing.plan import Leaf, Node


def subtree_available(node: Node, cooldown: Cooldown) -> bool:
    """A leaf that is not cooled down, or a group with at least one such leaf."""
    if isinstance(node, Leaf):
        return cooldown.available(node.health_key)
    return any(subtree_available(child, cooldown) for child in node.children)


def subtree_last_failure(node: Node, cooldown: Cooldown) -> float:
    """The oldest last-failure time among the subtree's leaves (best candidate when all cooled down)."""
    if isinstance(node, Leaf):
        return cooldown.last_failure(node.health_key)
    return min(subtree_last_failure(child, cooldown) for child in node.children)


def usable(children: Sequence[Node], cooldown: Cooldown) -> list[Node]:
    """Children not cooled down, in order; if all are, the least recently failed (never skip all)."""
    ready = [child for child in children if subtree_available(child, cooldown)]
    if ready:
        return ready
    return [min(children, key=lambda child: subtree_last_failure(child, cooldown))]


def weighted_pick(children: Sequence[Node], rng: random.Random) -> Node:
    """Weighted random choice (weights are relative; zero never picked unless all are zero)."""
    weights = [max(child.weight, 0.0) for child in children]
    total = sum(weights)
    if total <= 0:
        return children[0]
    point = rng.random() * total
    for child, weight in zip(children, weights, strict=True):
        point -= weight
        if point < 0:
            return child
    return next(child for child, weight in zip(children, weights, strict=True) if weight > 0)
