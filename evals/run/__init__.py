"""Running: a composed config is checked and becomes a plan (`plan.py`), the plan's samples are
checked before any load (`preflight.py`, `held_out.py`, the guards), then `runner.py` claims the
run folder, loads the model once per session, applies the method and lets `loop.py` write the
records. `cli.py` is `lampe-eval`; `study.py` runs many plans; `lm_eval_model.py` is `--model lampe`."""
