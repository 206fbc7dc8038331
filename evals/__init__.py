"""Benchmarks behind one interface: samples -> prompts -> generate/score -> records -> metrics."""
