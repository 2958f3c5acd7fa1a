"""Shared set-up of the experiment scripts: arguments, corpus, databases, output folder."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from dejavu_lab import Dejavu, get_preset
from dejavu_lab.corpus import default_corpus_dir
from dejavu_lab.studies import CorpusAudio, build_database, load_corpus_audio
from dejavu_lab.studies.provenance import provenance

RESULTS = Path(__file__).resolve().parent / "results"


def parser(description: str) -> argparse.ArgumentParser:
    """Arguments every experiment takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--size",
        choices=("small", "full"),
        default="small",
        help="corpus size (default: %(default)s); build it with make corpus[-small]",
    )
    p.add_argument(
        "--presets",
        nargs="+",
        default=["default", "dejavu"],
        help="pipeline presets to compare (default: %(default)s)",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="output folder (default: experiments/results/<size>)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the query set")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


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
    folder = output_dir(args) / "db"
    folder.mkdir(exist_ok=True)
    path = folder / f"{preset}-{corpus.manifest_hash[:10]}.duckdb"
    pipeline = get_preset(preset)
    if path.exists():
        try:
            djv = Dejavu({"database": str(path)}, pipeline=pipeline)
            if djv.db.stats().num_songs == len(corpus.reference):
                return djv, path
            djv.close()
        except Exception as error:  # stale or foreign file: rebuild it
            logging.warning("rebuilding %s (%s)", path, error)
    djv, report = build_database(pipeline, corpus, path=path, progress=not args.quiet)
    meta = {
        "preset": preset,
        "fingerprint_seconds": report.fingerprint_seconds,
        "audio_seconds": report.audio_seconds,
        "num_hashes": report.num_hashes,
        "speed_x_realtime": report.speed_x_realtime,
        **provenance(pipeline.get_params(), corpus.manifest_hash),
    }
    (folder / f"{preset}-build.json").write_text(json.dumps(meta, indent=2))
    return djv, path


def save(frame, folder: Path, name: str, corpus: CorpusAudio, params: dict) -> Path:  # type: ignore[no-untyped-def]
    """Write a result CSV with a provenance JSON beside it."""
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False, float_format="%.4g")
    (folder / f"{name}.provenance.json").write_text(
        json.dumps(provenance(params, corpus.manifest_hash), indent=2)
    )
    return path
