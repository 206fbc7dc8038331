"""A tiny Llama whose greedy output is a given token script, to test stop rules through generate()."""
from __future__ import annotations

import torch
from transformers import LlamaConfig, LlamaForCausalLM


class ScriptedLlama(LlamaForCausalLM):
    """After a prompt of `prompt_length` tokens, the n-th new token's logits put `script[n]` on top
    (0 against -1e4 elsewhere); past the script, token 0. Everything else is a real forward."""

    script: list[int] = []
    prompt_length: int = 0

    def forward(self, *args, **kwargs):
        out = super().forward(*args, **kwargs)
        step = out.past_key_values.get_seq_length() - self.prompt_length
        target = self.script[step] if 0 <= step < len(self.script) else 0
        logits = torch.full_like(out.logits, -1e4)
        logits[..., -1, target] = 0.0
        out.logits = logits
        return out


def scripted_llama(vocab_size: int, script: list[int], prompt_length: int) -> ScriptedLlama:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, pad_token_id=0)
    model = ScriptedLlama(config).eval()
    model.script, model.prompt_length = list(script), prompt_length
    model.generation_config.eos_token_id = None
    return model
