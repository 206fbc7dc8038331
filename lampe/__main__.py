"""`python -m lampe ...`: the same as `lampe-eval ...` (see lampe/cli.py)."""
from lampe.cli import main

main()
