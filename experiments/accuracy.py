"""Study 1: accuracy versus seconds listened, clean and through a laptop microphone.

python experiments/accuracy.py --size full
python experiments/accuracy.py --size full --plot-only   # redraw accuracy.png from the CSVs
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from _common import (
    database,
    load_corpus,
    output_dir,
    panels,
    parser,
    save,
    save_figure,
    shared_legend,
)

from dejavu_lab.studies import accuracy_vs_seconds, plots
from dejavu_lab.studies.accuracy import DEFAULT_CONDITIONS, DEFAULT_SECONDS
from dejavu_lab.studies.intervals import wilson_interval


def figure(tables: list[pd.DataFrame], folder: Path) -> None:
    """accuracy.png: one panel per preset, with 95 % Wilson intervals."""
    fig, axes = panels(len(tables))
    for ax, table in zip(axes, tables, strict=True):
        if "accuracy_low_pct" not in table.columns:  # CSVs written before the intervals
            low, high = wilson_interval(table["correct"], table["total"])
            table = table.assign(accuracy_low_pct=100 * low, accuracy_high_pct=100 * high)
        plots.accuracy_vs_seconds(table, ax=ax, title=f"preset {table.preset.iloc[0]!r}")
    for ax in axes[1:]:
        ax.set_ylabel("")
    shared_legend(fig, axes)
    save_figure(fig, folder / "accuracy.png")


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--conditions", nargs="+", default=list(DEFAULT_CONDITIONS))
    p.add_argument("--seconds", nargs="+", type=float, default=list(DEFAULT_SECONDS))
    p.add_argument("--per-song", type=int, default=2, help="excerpts per track and length")
    p.add_argument("--plot-only", action="store_true", help="redraw the figure from the CSVs")
    args = p.parse_args()
    folder = output_dir(args)
    tables = []
    if not args.plot_only:
        corpus = load_corpus(args)
        for preset in args.presets:
            djv, _ = database(args, corpus, preset)
            table = accuracy_vs_seconds(
                djv,
                corpus,
                seconds=args.seconds,
                conditions=args.conditions,
                n_per_song=args.per_song,
                n_per_unseen=4 * args.per_song,
                seed=args.seed,
                progress=not args.quiet,
            )
            table.insert(0, "preset", preset)
            save(table, folder, f"accuracy_{preset}", corpus, djv.pipeline.get_params())
            tables.append(table)
            djv.close()
        both = pd.concat(tables, ignore_index=True)
        print(both.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    # The figure shows the requested presets with results in the folder, run now or before.
    done = {t.preset.iloc[0] for t in tables}
    for preset in args.presets:
        path = folder / f"accuracy_{preset}.csv"
        if preset not in done and path.exists():
            tables.append(pd.read_csv(path))
    figure(tables, folder)


if __name__ == "__main__":
    main()
