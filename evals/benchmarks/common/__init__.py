"""Pieces several benchmarks share, so no benchmark imports another."""
