"""README demo: the embedded SmolLM2 (8k window) answers from a 12k-token prompt with LaMPE.

A pass key hidden in the middle of ~12k tokens of essays; stock RoPE and LaMPE answer in turn.
"""
import glob
import time

import torch

import lampe

model, tokenizer = lampe.load_model("smollm2")
essays = "".join(open(p).read() for p in sorted(glob.glob("../shared/data/paul_graham_essays/*.txt")))
words = essays.split()
needle = "The pass key is 68413. Remember it. 68413 is the pass key."
text = " ".join(words[:4500]) + f"\n{needle}\n" + " ".join(words[4500:9000])
messages = [{"role": "user", "content": text + "\n\nWhat is the pass key? Answer with the number only."}]
ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")["input_ids"]
print(f"prompt: {ids.shape[1]} tokens (window: {model.config.max_position_embeddings})")

for name, params in [("original", {}), ("lampe", {"mapping_length": 4096, "local_window": 1024})]:
    lampe.apply_method(model, name, **params)
    start = time.time()
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False)
    answer = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    print(f"{name:>8}: {answer!r}  ({time.time() - start:.0f} s)")
