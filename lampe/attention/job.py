"""What every kernel call of one attention call shares: the engine builds one `AttentionJob`
per call and hands it to the planner (tiled, masked or flex) and to the decode path."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from lampe.attention.rope import RopeTable
from lampe.attention.rules import DistanceRule
from lampe.attention.workspace import Workspace


@dataclass(frozen=True)
class AttentionJob:
    rule: DistanceRule
    table: RopeTable  # cos/sin by position, in the model's rotary scaling
    attend: Callable  # the fused kernel returning (out, log-sum-exp): kernels.pick_backend
    scale: float  # softmax scale, the call's uniform token factor included
    base_scale: float  # the same without that factor (the flex planner puts the factor into q)
    factor: float  # the uniform token factor (ChunkLlama's mscale at this length; 1.0 without one)
    compute: torch.dtype  # float32, or the input's half type on a GPU
    group: int  # query heads per key/value head (GQA)
    offset: int  # cache slots before the first query: number of keys - number of queries
    workspace: Workspace  # scratch buffers shared across layers and steps
