"""Upstream LLM simulator: OpenAI, Azure OpenAI, Anthropic and Gemini wire formats with timing and faults."""

from gateway.simulator.app import SimulatorApp, create_app
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.faults import FaultScript, FaultSpec
from gateway.simulator.recorder import RecordedRequest
from gateway.simulator.runner import RunningSimulator, run_in_thread, serve, start_in_thread

__all__ = [
    "FaultScript",
    "FaultSpec",
    "RecordedRequest",
    "RunningSimulator",
    "SimulatorApp",
    "SimulatorConfig",
    "create_app",
    "run_in_thread",
    "serve",
    "start_in_thread",
]
