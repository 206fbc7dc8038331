"""Benchmarks: each turns its options into samples (prompts, references, budgets), scores a
model's answers and summarizes them. One module or package per benchmark; what several share
(haystacks, prompt formats, splits, sizing, data sources, the model as a benchmark sees it,
metrics) is in `common/`; `base.py` is the interface, `options.py` the option declarations,
`registry.py` the names."""
