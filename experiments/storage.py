"""Study 3: storage of the reference tracks as mp3, wav and fingerprints.

python experiments/storage.py --size full
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from _common import database, load_corpus, output_dir, parser, save

from dejavu_lab.studies import plots, storage
from dejavu_lab.studies.corpus import default_corpus_dir


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    corpus, folder = load_corpus(args), output_dir(args)
    paths = {}
    for preset in args.presets:
        djv, path = database(args, corpus, preset)
        djv.close()
        paths[preset] = path
    table = storage(default_corpus_dir(args.size), paths)
    save(table, folder, "storage", corpus, {"presets": args.presets})
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    ax = plots.storage_bars(table, log_scale=True, title=f"{len(corpus.reference)} tracks")
    ax.figure.savefig(folder / "storage.png", dpi=120)
    plt.close(ax.figure)
    print(f"wrote {folder / 'storage.png'}")


if __name__ == "__main__":
    main()
