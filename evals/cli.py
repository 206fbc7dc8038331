"""Old path of `evals.run.cli` (console scripts installed before the move call `evals.cli:main`)."""
from evals.run.cli import CheckResultsDir, SweepSummary, main

__all__ = ["CheckResultsDir", "SweepSummary", "main"]

if __name__ == "__main__":
    main()
