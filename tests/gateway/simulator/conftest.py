"""Fixtures for the simulator tests: one simulator per session on 127.0.0.1, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.simulator import RunningSimulator, SimulatorConfig, run_in_thread


@pytest.fixture(scope="session")
def shared_simulator() -> Iterator[RunningSimulator]:
    """A simulator with default settings (16 tokens, no delays) for the whole session."""
    with run_in_thread(SimulatorConfig()) as running:
        yield running


@pytest.fixture
def sim(shared_simulator: RunningSimulator) -> RunningSimulator:
    """The shared simulator with no scripted faults and an empty record."""
    shared_simulator.reset()
    return shared_simulator
