"""Sweep: fan value x amplitude threshold (or any stage__param grid).

python experiments/sweep.py --size full
python experiments/sweep.py --grid '{"peaks__peaks_per_second": [30, 60, 90]}'
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from _common import load_corpus, output_dir, parser, save

from dejavu_lab.core.cache import MemoryCache
from dejavu_lab.studies import plots, sweep

DEFAULT_GRID = {"hasher__fan_value": [4, 8, 12], "peaks__amp_min_db": [-20.0, 0.0, 20.0]}


def plot(
    table: pd.DataFrame, names: list[str], seconds: list[float], folder: Path, name: str
) -> None:
    """Heatmaps (accuracy, MB per track, match time) and the storage-accuracy Pareto front."""
    if len(names) != 2:
        return
    metric = f"accuracy_pct_laptop-mic_{seconds[0]:g}s"
    shown = table.assign(mb_per_track=table.bytes_per_track / 1e6)
    fig, axes = plt.subplots(1, 3, figsize=(19, 4.8), gridspec_kw={"wspace": 0.45})
    for ax, value, fmt, title in zip(
        axes,
        (metric, "mb_per_track", "median_match_ms"),
        (".0f", ".2f", ".1f"),
        (
            f"laptop mic, {seconds[0]:g} s: accuracy (%)",
            "database per track (MB)",
            "median match time (ms)",
        ),
        strict=True,
    ):
        plots.sweep_heatmap(shown, x=names[0], y=names[1], value=value, ax=ax, fmt=fmt, title=title)
    fig.savefig(folder / f"{name}.png", dpi=120, bbox_inches="tight")
    ax = plots.pareto(table, x="bytes_per_track", y=metric, label_columns=tuple(names))
    ax.figure.savefig(folder / f"{name}_pareto.png", dpi=120, bbox_inches="tight")


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument(
        "--grid",
        type=json.loads,
        default=DEFAULT_GRID,
        help="JSON object of stage__param -> list of values",
    )
    p.add_argument("--base", default="default", help="preset giving the other parameters")
    p.add_argument("--seconds", nargs="+", type=float, default=[1.0, 2.0, 3.0])
    p.add_argument("--name", default="sweep_fan_amp", help="file name of the results")
    p.add_argument("--plot-only", action="store_true", help="redraw the figures from the CSV")
    args = p.parse_args()
    if args.plot_only:
        folder = output_dir(args)
        plot(
            pd.read_csv(folder / f"{args.name}.csv"),
            list(args.grid),
            args.seconds,
            folder,
            args.name,
        )
        return
    corpus, folder = load_corpus(args), output_dir(args)
    table = sweep(
        args.grid,
        corpus,
        base=args.base,
        seconds=args.seconds,
        conditions=("clean", "laptop-mic"),
        seed=args.seed,
        cache=MemoryCache(),
        results_db=folder / "results.duckdb",
        progress=not args.quiet,
    )
    save(table.drop(columns=["params"]), folder, args.name, corpus, {"grid": args.grid})
    shown = [c for c in table.columns if c.startswith("accuracy_pct_laptop")] + [
        "false_match_pct",
        "bytes_per_track",
        "hashes_per_second",
        "median_match_ms",
    ]
    print(table[list(args.grid) + shown].to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    plot(table, list(args.grid), args.seconds, folder, args.name)
    print(f"wrote {folder / (args.name + '.csv')}")


if __name__ == "__main__":
    main()
