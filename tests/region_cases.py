"""Region rules with parameters small enough that every region shows up in short test inputs."""
from lampe.attention.rules import PlainRule
from lampe.methods.chunkllama import ChunkRule
from lampe.methods.lampe import LampeRule
from lampe.methods.lm_infinite import LambdaRule
from lampe.methods.rerope import ReRopeRule
from lampe.methods.self_extend import SelfExtendRule
from lampe.methods.string import StringRule

RULES = {
    "plain": PlainRule(),
    "self_extend": SelfExtendRule(window=15, group=5),
    "self_extend_scale_base": SelfExtendRule(window=15, group=5, scale_base=20),
    "chunkllama": ChunkRule(chunk_size=40, local_window=7),
    # 2 * local_window >= chunk_size (older chunks' query at 2s - 1), logit scale past P = 48
    "chunkllama_mscale": ChunkRule(chunk_size=30, local_window=16, mscale_length=48),
    "lampe": LampeRule(local_window=16, initial_tokens=9, fixed_mapping=37, sigmoid=None, temperature=1.07,
                       variant="three_region"),
    "lampe_sigmoid": LampeRule(local_window=16, initial_tokens=5, fixed_mapping=None,
                               sigmoid=(0.01, -1.0, 90.0), temperature=1.0, variant="three_region"),
    "lampe_two_region": LampeRule(local_window=16, initial_tokens=9, fixed_mapping=37, sigmoid=None,
                                  temperature=1.07, variant="two_region"),
    "lampe_float32": LampeRule(local_window=16, initial_tokens=9, fixed_mapping=37, sigmoid=None, temperature=1.0,
                               variant="three_region", arithmetic="float32"),
    "rerope": ReRopeRule(window=17, scale_base=20),
    "rerope_leaky": ReRopeRule(window=17, leaky_factor=4.0, scale_base=20),  # fractional distances
    "string": StringRule(shifted_offset=37, local_window=11),
    "string_prompt": StringRule(None, local_window=11, prompt_ratio=0.4),  # S per row: int(0.4 L)
    "lm_infinite": LambdaRule(local_branch=29, global_branch=6, limit_distance=29),
    # limit past the local branch: the first tokens sit at min(limit, n - 1), n the current length
    "lm_infinite_far_limit": LambdaRule(local_branch=23, global_branch=4, limit_distance=150),
}

# apply_method parameters with the same small windows, for model-level tests
METHOD_PARAMS = {
    "self_extend": {"window": 15, "group": 5},
    "self_extend_scale_base": {"window": 15, "group": 5, "scale_base": 20},
    "chunkllama": {"chunk_size": 40, "local_window": 7},
    "lampe": {"local_window": 16, "initial_tokens": 9, "mapping_length": 37},
    "lampe_two_region": {"local_window": 16, "initial_tokens": 9, "mapping_length": 37, "variant": "two_region"},
    "rerope": {"window": 17, "pretraining_length": 20},
    "rerope_leaky": {"window": 17, "leaky": True, "leaky_factor": 4.0, "pretraining_length": 20},
    "string": {"shifted_offset": 37, "local_window": 11},
    "string_prompt": {"shifted_ratio": 0.4, "shifted_length": "prompt", "local_window": 11},
    "lm_infinite": {"local_branch": 29, "global_branch": 6},
}
