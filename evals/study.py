"""`python -m evals.study ...` (`make study`): runs `evals.run.study`, its home since the move."""
import sys

from evals.run.study import main

if __name__ == "__main__":
    sys.exit(main())
