"""`python -m evals.longbench_v2.result RUN_DIR ...`: runs `evals.report.longbench_v2`, its home since the move."""
import sys

from evals.report.longbench_v2 import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
