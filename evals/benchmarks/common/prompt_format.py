"""What reaches the model: the three prompt formats, and the model families `official` tells apart.

Every generation benchmark takes `prompt_format`:
- `official`: what the benchmark's own released script sends to a model of this family, quirks
  included (each benchmark's docs list them, with the line of the official code);
- `chat`: the model's own chat template (lampe's protocol: the same wrapping on every benchmark);
- `raw`: the bare text, the tokenizer's own special tokens (BOS) included.

The family is read from the tokenizer's chat template, by markers each published template has:
`[INST]` with `<<SYS>>` (Llama-2 chat), `<|start_header_id|>` (Llama-3 / 3.1 instruct),
`<|im_start|>` (ChatML: Qwen2 / 2.5, SmolLM2), `[INST]` alone (Mistral instruct). A tokenizer
without a template, or a model run with `model.chat_template=false`, is `base`; a template none
of these match is `other`, which every benchmark treats as its script's default case.
"""
from __future__ import annotations

FORMATS = ("official", "chat", "raw")
DEFAULT_FORMAT = "official"

# family -> markers that must all appear in its chat template; checked in order (Llama-2's
# template also has "[INST]", so it comes before Mistral's)
FAMILY_MARKERS: dict[str, tuple[str, ...]] = {
    "llama2": ("[INST]", "<<SYS>>"),
    "llama3": ("<|start_header_id|>", "<|eot_id|>"),
    "chatml": ("<|im_start|>", "<|im_end|>"),
    "mistral": ("[INST]",),
}
BASE, OTHER = "base", "other"
FAMILIES = (*FAMILY_MARKERS, BASE, OTHER)


def check_family(value) -> str:
    if value not in FAMILIES:
        raise ValueError(f"Invalid model family {value!r}. Valid choices: {', '.join(FAMILIES)}")
    return value


def template_text(tokenizer) -> str | None:
    """The tokenizer's chat template as one string (a dict of named templates: the default one)."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):
        template = template.get("default") or next(iter(template.values()), None)
    return template or None


def detect_family(tokenizer, chat_template: bool = True) -> str:
    """The family of the model behind `tokenizer` (see the module docstring)."""
    template = template_text(tokenizer) if chat_template else None
    if template is None:
        return BASE
    for family, markers in FAMILY_MARKERS.items():
        if all(marker in template for marker in markers):
            return family
    return OTHER
