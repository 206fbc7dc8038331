"""Importing this package registers every method."""
from lampe.methods import chunkllama, frequency, lampe, self_extend  # noqa: F401
from lampe.methods.registry import METHODS, apply_method, available_methods, get_method

__all__ = ["METHODS", "apply_method", "available_methods", "get_method"]
