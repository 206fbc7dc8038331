"""`make table`: every finished run under results/ -> paper-style tables and plots.

Writes results/tables/<benchmark>[_<view>].{md,tex,csv} (rows model x method, columns tasks by
group + average; views such as by_length), results/tables/summary.* (one headline column per
benchmark, where a model has two) and PNG plots, then prints the Markdown tables.

    python scripts/make_table.py [--results results] [--out results/tables] [--benchmark ruler ...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.tables import write_tables  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results", help="results folder (relative: from the current folder)")
    parser.add_argument("--out", help="output folder (default: <results>/tables)")
    parser.add_argument("--benchmark", nargs="*", help="only these benchmark folders (default: all)")
    parser.add_argument("--quiet", action="store_true", help="do not print the Markdown tables")
    args = parser.parse_args(argv)
    written = write_tables(args.results, args.out, args.benchmark)
    if not written:
        print(f"No finished runs under {args.results}/ (run `make eval` first).")
        return 1
    for benchmark, paths in written.items():
        if not args.quiet:
            for path in paths:
                if path.suffix == ".md":
                    print(path.read_text())
        print(f"{benchmark}: " + ", ".join(p.name for p in paths) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
