"""Thin HTTP handlers over the pipeline."""
