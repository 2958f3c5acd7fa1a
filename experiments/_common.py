"""Shared set-up of the experiment scripts: arguments, corpus, databases, output folder."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shlex
import sys
from pathlib import Path

import matplotlib
import pandas as pd

matplotlib.use("Agg")

from dejavu_lab import Dejavu
from dejavu_lab.core.matching import Candidate
from dejavu_lab.studies import CorpusAudio, load_corpus_audio
from dejavu_lab.studies.corpus import default_corpus_dir
from dejavu_lab.studies.corpus_audio import cached_database
from dejavu_lab.studies.provenance import provenance

RESULTS = Path(__file__).resolve().parent / "results"


def at_true_offset(candidate: dict, offset_frames: float) -> Candidate:  # type: ignore[type-arg]
    """A recognition candidate (a ``Recognition.candidates`` row) moved to the true offset.

    The peak check of it is the most any ranking or offset search could give the song.
    """
    return Candidate(
        song_id=candidate["song_id"],
        offset_frames=offset_frames,
        aligned_hashes=0,
        song_votes=0,
        runner_up_aligned=0,
        confidence=float(candidate["confidence"]),
    )


def parser(description: str, *, presets: bool = True) -> argparse.ArgumentParser:
    """Arguments every experiment takes (``presets``: also ``--presets``, several to compare)."""
    p = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--size",
        choices=("small", "full"),
        default="small",
        help="corpus size (default: %(default)s); build it with make corpus[-small]",
    )
    if presets:
        p.add_argument(
            "--presets",
            nargs="+",
            default=["default", "hash-only", "dejavu"],
            help="pipeline presets to compare (default: %(default)s)",
        )
    p.add_argument(
        "--out", type=Path, default=None, help="output folder (default: experiments/results/<size>)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the query set")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def clip_scoring_parser(
    description: str, *, seconds: list[float], per_unseen: int
) -> argparse.ArgumentParser:
    """:func:`parser` plus the arguments of the explorations that score the calibration study's
    clips one seed at a time (``experiments/calibration.py``'s query set): conditions, lengths,
    clips a track, database workers, a trial limit and ``--from-csv``."""
    p = parser(description, presets=False)
    p.add_argument("--conditions", nargs="+", default=["clean", "laptop-mic"])
    p.add_argument("--seconds", nargs="+", type=float, default=seconds)
    p.add_argument("--per-song", type=int, default=1)
    p.add_argument("--per-unseen", type=int, default=per_unseen)
    p.add_argument("--workers", type=int, default=1, help="processes fingerprinting the database")
    p.add_argument("--limit", type=int, default=0, help="score only this many clips (a trial)")
    p.add_argument("--from-csv", action="store_true", help="tables from the saved scores only")
    return p


def right_oracle_false(table: pd.DataFrame) -> pd.Series:
    """A table cell per row of a clip-scoring table: ``right (oracle_above) / false``."""
    return (
        table.right.astype(str)
        + " ("
        + table.oracle_above.astype(str)
        + ") / "
        + table["false"].astype(str)
    )


def write_report(folder: Path, stem: str, text: str, table: pd.DataFrame) -> None:
    """``<stem>.txt`` (``text``) and ``<stem>_table.csv`` (``table``), and print ``text``."""
    (folder / f"{stem}.txt").write_text(text + "\n")
    table.to_csv(folder / f"{stem}_table.csv", index=False, float_format="%.4g")
    print(text)


def output_dir(args: argparse.Namespace) -> Path:
    """``experiments/results/<size>`` unless ``--out`` says otherwise."""
    folder = args.out or RESULTS / args.size
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def load_corpus(args: argparse.Namespace) -> CorpusAudio:
    """Decode the corpus, or say how to build it."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    corpus_dir = default_corpus_dir(args.size)
    if not (corpus_dir / "manifest.csv").exists():
        target = "corpus-small" if args.size == "small" else "corpus"
        sys.exit(f"no corpus at {corpus_dir}: run `make {target}`")
    return load_corpus_audio(corpus_dir, progress=not args.quiet)


def database(args: argparse.Namespace, corpus: CorpusAudio, preset: str) -> tuple[Dejavu, Path]:
    """The preset's database of the corpus, built once and reused while it matches."""
    return cached_database(preset, corpus, output_dir(args) / "db", progress=not args.quiet)


#: Gzip without a time stamp: the same rows give the same bytes (no change for git to see).
GZIP = {"method": "gzip", "mtime": 0}


def save(  # type: ignore[no-untyped-def]
    frame, folder: Path, name: str, corpus: CorpusAudio, params: dict, *, gzipped: bool = False
) -> Path:
    """Write a result CSV (``.csv.gz`` if ``gzipped``) with a provenance JSON beside it (and
    the command that made it: its seed, size and presets are there, not in ``params``)."""
    path = folder / f"{name}.csv{'.gz' if gzipped else ''}"
    frame.to_csv(path, index=False, float_format="%.4g", compression=GZIP if gzipped else None)
    record = {**provenance(params, corpus.manifest_hash), "command": command_line()}
    (folder / f"{name}.provenance.json").write_text(json.dumps(record, indent=2))
    return path


def command_line() -> str:
    """This run's command, as a shell would take it (paths relative to the repository)."""
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(RESULTS.parent.parent)
    return shlex.join(["python", str(script), *sys.argv[1:]])


def scored_rows(folder: Path, stem: str, seed: int, best_rows) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """A seed's scored rows: every row (``<stem>_seed<S>.csv.gz``) if this machine scored the
    seed, writing the rows the tables read (``best_rows(rows)``) to ``..._best.csv.gz``; else
    those committed best rows."""
    every = folder / f"{stem}_seed{seed}.csv.gz"
    best = folder / f"{stem}_seed{seed}_best.csv.gz"
    if not every.exists():
        return pd.read_csv(best, dtype={"truth": object})
    rows = pd.read_csv(every, dtype={"truth": object})
    best_rows(rows).to_csv(best, index=False, float_format="%.4g", compression=GZIP)
    return rows


def scored_seeds(folder: Path, stem: str, seeds, best_rows) -> dict[int, pd.DataFrame]:  # type: ignore[no-untyped-def]
    """:func:`scored_rows` of each of ``seeds`` scored here or committed (the others left out)."""
    return {
        seed: scored_rows(folder, stem, seed, best_rows)
        for seed in seeds
        if any(folder.glob(f"{stem}_seed{seed}*.csv.gz"))
    }


#: Width of a figure of panels side by side (inches): at 100 dpi, a documentation page's width.
FIGURE_WIDTH_IN = 10.0


def panels(n: int, *, height_in: float = 3.6):  # type: ignore[no-untyped-def]
    """A figure of ``n`` panels side by side, laid out tightly (constrained layout)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, n, figsize=(FIGURE_WIDTH_IN, height_in), squeeze=False, layout="constrained"
    )
    return fig, list(axes[0])


def shared_legend(fig, axes, *, ncols: int = 3) -> None:  # type: ignore[no-untyped-def]
    """One legend under the panels instead of one in each (the panels share their lines)."""
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    fig.legend(handles, labels, loc="outside lower center", ncols=ncols, frameon=False)


def save_figure(fig, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Save at 100 dpi with no empty margin, and say where."""
    fig.savefig(path, dpi=100, bbox_inches="tight", pad_inches=0.05)
    print(f"wrote {path}")
