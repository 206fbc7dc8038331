"""`python -m evals.lm_eval_cli ...` (`lampe-lm-eval`): runs `evals.run.lm_eval_cli`, its home since the move."""
from evals.run.lm_eval_cli import main

if __name__ == "__main__":
    main()
