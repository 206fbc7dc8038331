"""`python -m evals ...`: the same as `lampe-eval ...` (see evals/cli.py)."""
from evals.cli import main

main()
