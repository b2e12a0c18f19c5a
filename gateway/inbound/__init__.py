"""Inbound API formats other than OpenAI, translated to and from the OpenAI shape the pipeline speaks."""
