"""lampe: training-free RoPE context extension for Hugging Face models, and its evaluation.

The whole public API: load a model, apply a method, and LaMPE's mapping-length sigmoid.
"""
from lampe.methods import apply_method, available_methods
from lampe.methods.lampe import PRESETS, mapping_length
from lampe.models import load_model

__all__ = ["load_model", "apply_method", "available_methods", "mapping_length", "PRESETS"]
__version__ = "0.1.0"
