"""Study 5: accuracy as SNR, speed, pitch, tempo and codec change, presets side by side.

python experiments/robustness.py --size full
python experiments/robustness.py --size full --plot-only   # redraw robustness.png from the CSV
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from _common import database, load_corpus, output_dir, parser, save_figure, shared_legend

from dejavu_lab.studies import plots
from dejavu_lab.studies.provenance import provenance
from dejavu_lab.studies.robustness import (
    AXES,
    false_match_summary,
    robustness,
    robustness_grid,
)

#: The coarser grid of ``--coarse``.
COARSE = {
    "snr_db": (-10.0, -5.0, 0.0, 5.0, 10.0, 20.0),
    "speeds": (0.90, 0.95, 0.97, 1.0, 1.03, 1.05, 1.10),
    "semitones": (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0),
    "stretches": (0.90, 0.95, 1.0, 1.05, 1.10),
    "bitrates_kbps": (32, 64, 128),
}


def figure(table: pd.DataFrame, folder: Path) -> None:
    """robustness.png: one panel per axis, and the false matches."""
    shown = [axis for axis in AXES if axis in set(table.axis)]
    fig, grid = plt.subplots(2, 3, figsize=(10.0, 6.6), layout="constrained")
    flat = list(grid.ravel())
    for ax, axis in zip(flat, shown, strict=False):
        plots.robustness(table, axis, ax=ax)
    seconds = float(table.seconds.iloc[0])
    plots.robustness_false_matches(
        false_match_summary(table), ax=flat[len(shown)], title="unseen tracks"
    )
    for ax in flat[len(shown) + 1 :]:
        ax.set_visible(False)
    shared_legend(fig, flat[: len(shown)])
    fig.suptitle(f"{seconds:g} s clips, laptop microphone (babble at 10 dB unless on the axis)")
    save_figure(fig, folder / "robustness.png")


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--seconds", type=float, default=5.0, help="clip length (s)")
    p.add_argument("--per-song", type=int, default=1, help="clips per track and grid point")
    p.add_argument("--per-unseen", type=int, default=2, help="clips per unseen track and point")
    p.add_argument(
        "--coarse", action="store_true", help="fewer grid points (for slow presets such as dejavu)"
    )
    p.add_argument("--plot-only", action="store_true", help="redraw the figure from the CSV")
    args = p.parse_args()
    folder = output_dir(args)
    if args.plot_only:
        figure(pd.read_csv(folder / "robustness.csv"), folder)
        return
    corpus = load_corpus(args)
    databases = {preset: database(args, corpus, preset)[0] for preset in args.presets}
    grid = robustness_grid(**COARSE) if args.coarse else robustness_grid()
    table = robustness(
        databases,
        corpus,
        grid=grid,
        seconds=args.seconds,
        n_per_song=args.per_song,
        n_per_unseen=args.per_unseen,
        seed=args.seed,
        progress=not args.quiet,
    )
    # Presets run now replace their earlier rows; other presets' rows are kept.
    path = folder / "robustness.csv"
    if path.exists():
        earlier = pd.read_csv(path)
        table = pd.concat([earlier[~earlier.preset.isin(args.presets)], table], ignore_index=True)
    table.to_csv(path, index=False, float_format="%.4g")
    record: dict[str, object] = dict(
        provenance(
            {preset: djv.pipeline.get_params() for preset, djv in databases.items()},
            corpus.manifest_hash,
        )
    )
    record["study"] = {
        "seconds": args.seconds,
        "per_song": args.per_song,
        "per_unseen": args.per_unseen,
        "seed": args.seed,
        "grid": [point.channel.describe() for point in grid],
    }
    for preset in args.presets:
        (folder / f"robustness_{preset}.provenance.json").write_text(
            json.dumps(record, indent=2, default=str)
        )
    for djv in databases.values():
        djv.close()
    shown = table[["preset", "axis", "value", "correct", "total", "accuracy_pct", "false_matches"]]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print(false_match_summary(table).to_string(index=False))
    figure(table, folder)


if __name__ == "__main__":
    main()
