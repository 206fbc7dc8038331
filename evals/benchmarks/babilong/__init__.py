"""BABILong (booydar/babilong: its prompts, template and compare_answers). Importing the package
registers the `babilong` benchmark."""
from evals.benchmarks.babilong.benchmark import Babilong

__all__ = ["Babilong"]
