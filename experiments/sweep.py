"""Sweep: fan value x amplitude threshold (or any stage__param grid).

python experiments/sweep.py --size full
python experiments/sweep.py --grid '{"peaks__peaks_per_second": [30, 60, 90]}'
"""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
from _common import load_corpus, output_dir, parser, save

from dejavu_lab import plots
from dejavu_lab.cache import MemoryCache
from dejavu_lab.studies import sweep

DEFAULT_GRID = {"hasher__fan_value": [4, 8, 12], "peaks__amp_min_db": [-20.0, 0.0, 20.0]}


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
    args = p.parse_args()
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
    names = list(args.grid)
    if len(names) == 2:
        metric = f"accuracy_pct_laptop-mic_{args.seconds[0]:g}s"
        fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
        for ax, value, fmt in zip(
            axes, (metric, "bytes_per_track", "median_match_ms"), (".0f", ".2s", ".1f"), strict=True
        ):
            shown_table = table.assign(bytes_per_track=table.bytes_per_track / 1e6)
            plots.sweep_heatmap(
                shown_table,
                x=names[0],
                y=names[1],
                value=value,
                ax=ax,
                fmt=".2f" if value == "bytes_per_track" else fmt,
                title=value.replace("bytes_per_track", "MB per track"),
            )
        fig.savefig(folder / f"{args.name}.png", dpi=120)
        ax = plots.pareto(table, x="bytes_per_track", y=metric, label_columns=tuple(names))
        ax.figure.savefig(folder / f"{args.name}_pareto.png", dpi=120)
    print(f"wrote {folder / (args.name + '.csv')}")


if __name__ == "__main__":
    main()
