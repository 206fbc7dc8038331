"""`make table`: every finished run under results/ (results/study/, results/study/archive-*/) -> tables and plots.

Writes <results>/tables/<benchmark>[_<view>].{md,tex,csv} (rows model x method in the method
registry's order, columns tasks by group + average; views such as by_length), <benchmark>_paired.*
(each method against the declared references), <results>/tables/summary.* (one headline column per
benchmark, where a model has two) and PNG plots, then prints the Markdown tables. A folder without
finished runs (a fresh clone's results/, whose runs git ignores) is skipped with a line saying so;
only when none has any is it an error. Two renders of the same records are identical, byte for byte.

    python scripts/make_table.py [--results results [--results results/study]] [--out DIR]
                                 [--benchmark ruler ...] [--reference original --reference lampe]
                                 [--split test|dev] [--threshold 85.6]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.report.effective_length import RULER_THRESHOLD  # noqa: E402
from evals.report.tables import write_tables  # noqa: E402

DEFAULT_RESULTS = ("results", "results/study")  # the runs of `make eval`, then the committed study's
ARCHIVES = "results/study/archive-*"  # earlier studies, kept with their tables (each regenerates too)


def default_roots() -> list[str]:
    """The default folders that exist: results/, results/study/ and every archived study, in name order."""
    found = [r for r in DEFAULT_RESULTS if Path(r).is_dir()]
    return found + sorted(str(p) for p in Path().glob(ARCHIVES) if p.is_dir())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", action="append",
                        help="a results folder (relative: from the current folder); repeat for several "
                             f"(default: {', '.join(DEFAULT_RESULTS)} and {ARCHIVES}, where they exist)")
    parser.add_argument("--out", help="output folder (default: <results>/tables; needs a single --results)")
    parser.add_argument("--benchmark", nargs="*", help="only these benchmark folders (default: all)")
    parser.add_argument("--reference", action="append", dest="references",
                        help="a declared reference of the paired tables, a method or a row label; repeat "
                             "for several (default: original, lampe)")
    parser.add_argument("--split", default="test", choices=["test", "dev"],
                        help="render the runs of this split (default test: dev runs tune, they never score)")
    parser.add_argument("--threshold", type=float, default=RULER_THRESHOLD,
                        help=f"score an effective length must keep at every length (default {RULER_THRESHOLD}, RULER's)")
    parser.add_argument("--quiet", action="store_true", help="do not print the Markdown tables")
    args = parser.parse_args(argv)
    roots = args.results or default_roots() or [DEFAULT_RESULTS[0]]
    if args.out and len(roots) > 1:
        parser.error(f"--out names one folder but {len(roots)} results folders are rendered ({', '.join(roots)}); "
                     "give one --results")
    rendered = 0
    for root in roots:
        written = write_tables(root, args.out, args.benchmark, tuple(args.references) if args.references else None,
                               split=args.split, threshold=args.threshold)
        if not written:
            print(f"No finished runs under {root}/: skipped.")
            continue
        rendered += 1
        for benchmark, paths in written.items():
            if not args.quiet:
                for path in paths:
                    if path.suffix == ".md":
                        print(path.read_text())
            print(f"{root}: {benchmark}: " + ", ".join(p.name for p in paths) + "\n")
    if not rendered:
        print(f"No finished runs under {' or '.join(f'{r}/' for r in roots)} (run `make eval` first).")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
