"""Tokenizers of the five model families the conformance tests cover, built here (nothing downloads).

Each is laid out as its published tokenizer.json and tokenizer_config.json are (normalizer,
special tokens, BOS rule, chat template string), over a vocabulary without merges, so every
character is one token and a test can work the ids out by hand:

- SentencePiece layout (Llama-2 chat, Mistral-7B-Instruct-v0.2): each stretch of text between
  special tokens gets a "▁" in front and its spaces become "▁" (the published normalizer);
  "▁" is id 259, printable ASCII c is 260 + ord(c) - 33, any other character falls back to its
  UTF-8 bytes, byte b being id 3 + b (as in Llama-2: "\n" is <0x0A> = 13); <s> = 1, </s> = 2,
  and the tokenizer puts <s> in front.
- byte-level layout (Llama-3 instruct, Qwen2.5 instruct, and the base model Meta-Llama-3-8B):
  byte b of the UTF-8 text is id b; special tokens from 256 up; Llama-3 puts <|begin_of_text|>
  in front, Qwen2.5 nothing.

`sp_ids` and `byte_ids` are those rules written out, for the expected ids.
"""
from __future__ import annotations

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast
from transformers.convert_slow_tokenizer import bytes_to_unicode

# Published chat templates (tokenizer_config.json "chat_template" of each model).
LLAMA2_CHAT_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
    "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
    "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"
)
LLAMA3_CHAT_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
MISTRAL_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == "
    "'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles "
    "are supported!') }}{% endif %}{% endfor %}"
)
QWEN25_CHAT_TEMPLATE = (
    "{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n    {%- else %}\n"
    "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n    {%- endif %}\n"
    "    {{- \"\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are "
    "provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}\n"
    "    {%- for tool in tools %}\n        {{- \"\\n\" }}\n        {{- tool | tojson }}\n    {%- endfor %}\n"
    "    {{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>, \\\"arguments\\\": "
    "<args-json-object>}\\n</tool_call><|im_end|>\\n\" }}\n{%- else %}\n    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n"
    "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    "<|im_end|>\\n' }}\n    {%- endif %}\n{%- endif %}\n{%- for message in messages %}\n"
    "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message.role == "
    "\"assistant\" and not message.tool_calls) %}\n        {{- '<|im_start|>' + message.role + '\\n' + "
    "message.content + '<|im_end|>' + '\\n' }}\n    {%- elif message.role == \"assistant\" %}\n"
    "        {{- '<|im_start|>' + message.role }}\n        {%- if message.content %}\n"
    "            {{- '\\n' + message.content }}\n        {%- endif %}\n        {%- for tool_call in "
    "message.tool_calls %}\n            {%- if tool_call.function is defined %}\n                {%- set tool_call "
    "= tool_call.function %}\n            {%- endif %}\n            {{- '\\n<tool_call>\\n{\"name\": \"' }}\n"
    "            {{- tool_call.name }}\n            {{- '\", \"arguments\": ' }}\n            {{- "
    "tool_call.arguments | tojson }}\n            {{- '}\\n</tool_call>' }}\n        {%- endfor %}\n"
    "        {{- '<|im_end|>\\n' }}\n    {%- elif message.role == \"tool\" %}\n        {%- if (loop.index0 == 0) "
    "or (messages[loop.index0 - 1].role != \"tool\") %}\n            {{- '<|im_start|>user' }}\n        {%- endif %}\n"
    "        {{- '\\n<tool_response>\\n' }}\n        {{- message.content }}\n        {{- '\\n</tool_response>' }}\n"
    "        {%- if loop.last or (messages[loop.index0 + 1].role != \"tool\") %}\n            {{- '<|im_end|>\\n' }}\n"
    "        {%- endif %}\n    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n"
)

SP_BOS, SP_EOS, SP_SPACE = 1, 2, 259
LLAMA3_SPECIAL = {"<|begin_of_text|>": 256, "<|end_of_text|>": 257, "<|start_header_id|>": 258,
                  "<|end_header_id|>": 259, "<|eot_id|>": 260}
QWEN_SPECIAL = {"<|endoftext|>": 256, "<|im_start|>": 257, "<|im_end|>": 258}


def sp_ids(*segments: str) -> list[int]:
    """Ids of text stretches under the SentencePiece layout (each stretch gets its own "▁")."""
    ids = []
    for segment in segments:
        for char in "▁" + segment.replace(" ", "▁"):
            if char == "▁":
                ids.append(SP_SPACE)
            elif 33 <= ord(char) <= 126:
                ids.append(260 + ord(char) - 33)
            else:
                ids.extend(3 + b for b in char.encode("utf-8"))
    return ids


def byte_ids(text: str) -> list[int]:
    """Ids of text under the byte-level layout (no special-token text in it)."""
    return list(text.encode("utf-8"))


def _sentencepiece(chat_template: str) -> PreTrainedTokenizerFast:
    vocab = {"<unk>": 0, "<s>": SP_BOS, "</s>": SP_EOS, **{f"<0x{b:02X}>": 3 + b for b in range(256)}, "▁": SP_SPACE,
             **{chr(c): 260 + c - 33 for c in range(33, 127)}}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in ("<unk>", "<s>", "</s>")])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", SP_BOS)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   chat_template=chat_template)


def _byte_level(special: dict[str, int], bos: str | None, eos: str, chat_template: str | None,
                nfc: bool = False) -> PreTrainedTokenizerFast:
    vocab = {char: byte for byte, char in bytes_to_unicode().items()}
    vocab.update(special)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    if nfc:
        tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in special])
    if bos is not None:
        tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                                           special_tokens=[(bos, special[bos])])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos, chat_template=chat_template)


def llama2_chat() -> PreTrainedTokenizerFast:
    return _sentencepiece(LLAMA2_CHAT_TEMPLATE)


def mistral_instruct() -> PreTrainedTokenizerFast:
    return _sentencepiece(MISTRAL_CHAT_TEMPLATE)


def llama3_instruct() -> PreTrainedTokenizerFast:
    return _byte_level(LLAMA3_SPECIAL, "<|begin_of_text|>", "<|eot_id|>", LLAMA3_CHAT_TEMPLATE)


def qwen25_instruct() -> PreTrainedTokenizerFast:
    tok = _byte_level(QWEN_SPECIAL, None, "<|im_end|>", QWEN25_CHAT_TEMPLATE, nfc=True)
    tok.pad_token = "<|endoftext|>"
    return tok


def llama3_base() -> PreTrainedTokenizerFast:
    """Meta-Llama-3-8B: Llama-3's vocabulary and BOS, no chat template."""
    return _byte_level(LLAMA3_SPECIAL, "<|begin_of_text|>", "<|end_of_text|>", None)


# family name (evals.benchmarks.common.prompt_format) -> tokenizer builder
FAMILY_TOKENIZERS = {"llama2": llama2_chat, "llama3": llama3_instruct, "chatml": qwen25_instruct,
                     "mistral": mistral_instruct, "base": llama3_base}
