"""Study 2: time to match (decode + fingerprint + lookup) against recording time.

python experiments/matching_time.py --size full
python experiments/matching_time.py --size full --plot-only   # redraw from the CSVs
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from _common import database, load_corpus, output_dir, panels, parser, save, save_figure

from dejavu_lab.studies import fit_line, matching_time, plots


def figure(presets: list[str], folder: Path) -> None:
    """matching_time.png: one panel per preset with results in ``folder``."""
    fits = json.loads((folder / "matching_time_fit.json").read_text())
    shown = [p for p in presets if p in fits and (folder / f"matching_time_{p}.csv").exists()]
    fig, axes = panels(len(shown), height_in=4.0)
    for ax, preset in zip(axes, shown, strict=True):
        table = pd.read_csv(folder / f"matching_time_{preset}.csv")
        fit = fits[preset]
        plots.matching_time(
            table, fit["slope"], fit["intercept"], ax=ax, title=f"preset {preset!r}"
        )
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize="x-small")
    for ax in axes[1:]:
        ax.set_ylabel("")
    save_figure(fig, folder / "matching_time.png")


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--repeats", type=int, default=5, help="excerpts per recording time")
    p.add_argument("--plot-only", action="store_true", help="redraw the figure from the CSVs")
    args = p.parse_args()
    folder = output_dir(args)
    if args.plot_only:
        figure(args.presets, folder)
        return
    corpus = load_corpus(args)
    name = sorted(corpus.reference)[0]
    fits = {}
    for preset in args.presets:
        djv, _ = database(args, corpus, preset)
        table = matching_time(
            djv,
            corpus.reference[name],
            corpus.sample_rate,
            song_name=name,
            record_times_s=tuple(np.arange(1.0, 10.5, 1.0)),
            repeats=args.repeats,
            seed=args.seed,
            progress=not args.quiet,
        )
        fit = fit_line(table.record_time_s, table.match_time_s)
        fits[preset] = {
            "slope": fit.slope,
            "intercept": fit.intercept,
            "r_squared": fit.r_squared,
            "equation": fit.equation(),
            "x_realtime": fit.x_realtime,
            "with_recording": f"{1 + fit.slope:.6f} * record_time "
            f"{'-' if fit.intercept < 0 else '+'} "
            f"{abs(fit.intercept):.6f}",
            "song": name,
            "correct_pct": 100 * float(table.correct.mean()),
        }
        save(table, folder, f"matching_time_{preset}", corpus, djv.pipeline.get_params())
        print(
            f"{preset}: time_to_match = {fit.equation()} (r^2 {fit.r_squared:.3f}); "
            f"{fit.x_realtime:.0f}x real time; with recording: {fits[preset]['with_recording']}"
        )
        djv.close()
    (folder / "matching_time_fit.json").write_text(json.dumps(fits, indent=2))
    figure(args.presets, folder)


if __name__ == "__main__":
    main()
