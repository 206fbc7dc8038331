"""lampe: training-free RoPE context extension for Hugging Face models.

The core's public API: load a model, apply a method, LaMPE's mapping-length sigmoid, and what
a harness needs to validate parameters before loading anything. It imports only torch and
transformers; the evaluation harness (`evals`, the `eval` extra) builds on this API alone.
Extension points for a user's own method: `lampe.extension`.
"""
from lampe.attention.hook import ATTENTION_NAME, uses_region_attention
from lampe.methods import apply_method, available_methods, get_method, registered_methods
from lampe.methods.base import INT_LIMIT
from lampe.methods.lampe import PRESETS, mapping_length
from lampe.models import DTYPES, EMBEDDED_MODELS, embedded_config, load_model, load_tokenizer

__all__ = ["load_model", "load_tokenizer", "EMBEDDED_MODELS", "embedded_config", "DTYPES", "apply_method",
           "available_methods", "get_method", "registered_methods", "mapping_length", "PRESETS",
           "uses_region_attention", "ATTENTION_NAME", "INT_LIMIT"]
__version__ = "0.1.0"
