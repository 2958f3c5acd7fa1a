"""Study 1: accuracy versus seconds listened, clean and through a laptop microphone.

python experiments/accuracy.py --size full
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from _common import database, load_corpus, output_dir, parser, save

from dejavu_lab.studies import accuracy_vs_seconds, plots
from dejavu_lab.studies.accuracy import DEFAULT_CONDITIONS, DEFAULT_SECONDS


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--conditions", nargs="+", default=list(DEFAULT_CONDITIONS))
    p.add_argument("--seconds", nargs="+", type=float, default=list(DEFAULT_SECONDS))
    p.add_argument("--per-song", type=int, default=2, help="excerpts per track and length")
    args = p.parse_args()
    corpus, folder = load_corpus(args), output_dir(args)
    tables = []
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
    # The figure shows every preset with results in the folder, run now or before.
    done = {t.preset.iloc[0] for t in tables}
    for path in sorted(folder.glob("accuracy_*.csv")):
        earlier = pd.read_csv(path)
        if earlier.preset.iloc[0] not in done:
            tables.append(earlier)
    fig, axes = plt.subplots(1, len(tables), figsize=(6 * len(tables), 4.5), squeeze=False)
    for ax, table in zip(axes[0], tables, strict=True):
        plots.accuracy_vs_seconds(table, ax=ax, title=f"preset {table.preset.iloc[0]!r}")
    fig.savefig(folder / "accuracy.png", dpi=120)
    print(f"wrote {folder / 'accuracy.png'}")


if __name__ == "__main__":
    main()
