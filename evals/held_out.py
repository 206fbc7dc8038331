"""`python -m evals.held_out RESULTS_DIR`: runs `evals.run.held_out`'s audit, its home since the move."""
import sys

from evals.run.held_out import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
