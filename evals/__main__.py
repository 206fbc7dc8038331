"""`python -m evals ...`: the same as `lampe-eval ...` (see evals/run/cli.py)."""
from evals.run.cli import main

main()
