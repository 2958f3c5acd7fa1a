"""Study 2: time to match (decode + fingerprint + lookup) against recording time.

python experiments/matching_time.py --size full
"""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
from _common import database, load_corpus, output_dir, parser, save

from dejavu_lab.studies import fit_line, matching_time, plots


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--repeats", type=int, default=5, help="excerpts per recording time")
    args = p.parse_args()
    corpus, folder = load_corpus(args), output_dir(args)
    name = sorted(corpus.reference)[0]
    fits = {}
    fig, axes = plt.subplots(
        1, len(args.presets), figsize=(6 * len(args.presets), 4.5), squeeze=False
    )
    for ax, preset in zip(axes[0], args.presets, strict=True):
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
        plots.matching_time(table, fit.slope, fit.intercept, ax=ax, title=f"preset {preset!r}")
        print(
            f"{preset}: time_to_match = {fit.equation()} (r^2 {fit.r_squared:.3f}); "
            f"{fit.x_realtime:.0f}x real time; with recording: {fits[preset]['with_recording']}"
        )
        djv.close()
    (folder / "matching_time_fit.json").write_text(json.dumps(fits, indent=2))
    fig.savefig(folder / "matching_time.png", dpi=120)
    print(f"wrote {folder / 'matching_time.png'}")


if __name__ == "__main__":
    main()
