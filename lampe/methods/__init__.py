"""Importing this package registers every method, in the order tables list them."""
from lampe.methods import frequency, self_extend, chunkllama, rerope, string, lm_infinite, lampe  # noqa: F401, I001  (order = table order)
from lampe.methods.registry import METHODS, apply_method, available_methods, get_method, registered_methods

__all__ = ["METHODS", "apply_method", "available_methods", "get_method", "registered_methods"]
