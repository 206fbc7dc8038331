"""LanguageModel: the answer prefix is tokenized with the prompt, and decoding is plain greedy."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, trainers
from transformers import PreTrainedTokenizerFast

from evals.benchmarks.base import Sample
from evals.benchmarks.common.greedy import GREEDY
from evals.benchmarks.common.lm import LanguageModel

TEXT = ["Hi there, the answer is here.", "Question: what is it?\nAnswer: it is a word.", "the end"] * 20


@pytest.fixture(scope="module")
def sentencepiece_tokenizer():
    """A tiny BPE laid out like Llama-2's and Mistral's tokenizer.json: spaces become "▁" and
    every tokenized string gets a "▁" in front (SentencePiece's dummy prefix)."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tok.train_from_iterator(TEXT, trainers.BpeTrainer(vocab_size=120, special_tokens=["<unk>"]))
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>")


@pytest.mark.parametrize("prefix", ["\nAnswer:", " Answer: it is"])
@pytest.mark.parametrize("chat", [False, True])
def test_answer_prefix_is_tokenized_with_the_prompt(sentencepiece_tokenizer, prefix, chat):
    tok = sentencepiece_tokenizer
    tok.chat_template = "{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}"  # Llama-2's layout
    lm = LanguageModel(None, tok, chat_template=chat)
    sample = Sample(id="s", task="t", prompt="Question: what is it?", references=[], max_new_tokens=1,
                    answer_prefix=prefix)
    text = f"[INST] {sample.prompt} [/INST]" if chat else sample.prompt
    together = tok(text + prefix, add_special_tokens=False)["input_ids"]
    alone = tok(text, add_special_tokens=False)["input_ids"] + tok(prefix, add_special_tokens=False)["input_ids"]
    assert together != alone  # alone, the prefix opens with an extra "▁"
    assert lm.prompt_ids(sample) == together


def test_chat_prompt_and_prefix_are_one_string(tokenizer):
    lm = LanguageModel(None, tokenizer)
    sample = Sample(id="s", task="t", prompt="Name a colour.", references=[], max_new_tokens=1,
                    answer_prefix=" Answer:")
    text = tokenizer.apply_chat_template([{"role": "user", "content": "Name a colour."}], tokenize=False,
                                         add_generation_prompt=True)
    assert lm.prompt_ids(sample) == tokenizer(text + " Answer:", add_special_tokens=False)["input_ids"]


def greedy_by_hand(model, ids: list[int], steps: int) -> list[int]:
    out = list(ids)
    with torch.no_grad():
        for _ in range(steps):
            out.append(int(model(torch.tensor([out])).logits[0, -1].argmax()))
    return out[len(ids):]


def test_generation_ignores_the_checkpoints_sampling_settings(tiny_model, tokenizer):
    """A shipped repetition penalty, n-gram ban or suppressed token must not change greedy output."""
    lm = LanguageModel(tiny_model, tokenizer, chat_template=False)
    sample = Sample(id="s", task="t", prompt="1. apple 2. apple 3. apple 4.", references=[], max_new_tokens=12,
                    strip=False)
    ids = lm.prompt_ids(sample)
    expected = greedy_by_hand(tiny_model, ids, 12)
    config = tiny_model.generation_config
    config.repetition_penalty, config.no_repeat_ngram_size, config.suppress_tokens = 5.0, 1, [expected[0]]
    config.eos_token_id = None
    # a time limit that ends generation at once, and a stop string the greedy text contains
    config.max_time, config.stop_strings = 1e-9, [tokenizer.decode(expected[1:3])]
    config.watermarking_config = {"greenlist_ratio": 0.5, "bias": 50.0}
    text, length = lm.generate(sample)
    assert length == len(ids)
    assert text == tokenizer.decode(expected, skip_special_tokens=True)
    settings = lm.generation_settings()
    assert settings["repetition_penalty"] == 1.0 and settings["do_sample"] is False
    assert {k: settings[k] for k in GREEDY} == GREEDY


def test_family_comes_from_the_chat_template(tokenizer):
    from tests.family_tokenizers import FAMILY_TOKENIZERS

    for family, build in FAMILY_TOKENIZERS.items():
        assert LanguageModel(None, build()).family == family
    assert LanguageModel(None, tokenizer).family == "chatml"  # SmolLM2's template is ChatML
    assert LanguageModel(None, tokenizer, chat_template=False).family == "base"
    assert LanguageModel(None, tokenizer, family="llama3").family == "llama3"
    with pytest.raises(ValueError, match=r"Invalid model family 'gpt'. Valid choices: llama2, llama3, chatml"):
        LanguageModel(None, tokenizer, family="gpt")
    odd = FAMILY_TOKENIZERS["base"]()
    odd.chat_template = "{% for m in messages %}<turn>{{ m['content'] }}{% endfor %}"
    assert LanguageModel(None, odd).family == "other"


def test_prompt_formats_render_the_same_sample_three_ways(tokenizer):
    sample = Sample(id="s", task="t", prompt="Name a colour.", references=[], max_new_tokens=1, answer_prefix=" A:",
                    history=[("Name a fruit.", " A: pear")], official={"chatml": ["<<", ">>"]})
    lm = LanguageModel(None, tokenizer)
    chat = lm.prompt_ids(sample)
    raw = lm.prompt_ids(dataclasses.replace(sample, prompt_format="raw"))
    official = lm.prompt_ids(dataclasses.replace(sample, prompt_format="official"))
    assert tokenizer.decode(chat).count("<|im_start|>user") == 2
    assert tokenizer.decode(raw) == "Name a fruit. A: pear\nName a colour. A:"
    assert tokenizer.decode(official) == "<<Name a fruit.>> A: pear\n<<Name a colour.>> A:"
    with pytest.raises(ValueError, match=r"unknown prompt_format 'plain'. Valid choices: official, chat, raw"):
        lm.prompt_ids(dataclasses.replace(sample, prompt_format="plain"))


def test_a_run_records_its_decoding_settings(tiny_model, tokenizer, tmp_path):
    import json

    from evals.run.loop import run_benchmark
    from tests.fake_benchmark import FakeBenchmark

    lm = LanguageModel(tiny_model, tokenizer, chat_template=False)
    run_benchmark(FakeBenchmark(size=1), lm, tmp_path, progress=False)
    assert json.loads((tmp_path / "generation.json").read_text()) == lm.generation_settings()
