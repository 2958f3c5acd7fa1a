#!/usr/bin/env python3
"""Build the free-music corpus from Debian's game-soundtrack packages.

Downloads the packages with `apt-get download` (no install), extracts them with
`dpkg -x`, keeps music of 60 s or more, splits it deterministically into a
"reference" set (to fingerprint) and an "unseen" set (never fingerprinted, to
measure false matches), and writes 44.1 kHz 192 kbit/s MP3s plus manifest.csv
to <out>/<size>/. Running it again redoes nothing that is already there.
See data/README.md.

Exit status: 0 done, 1 failed, 2 bad arguments, 3 Debian tools (apt-get/dpkg)
unavailable, 4 no MP3 encoder (ffmpeg/lame), 5 package download failed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere, without install
    sys.path.insert(0, str(REPO_ROOT))

from dejavu_lab.studies import corpus  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    sizes = "; ".join(
        f"{name}: {spec.n_reference} reference + {spec.n_unseen} unseen from "
        f"{' '.join(spec.packages)}"
        + (
            f", + {spec.unseen_per_package} unseen from each of {' '.join(spec.unseen_packages)}"
            if spec.unseen_packages
            else ""
        )
        for name, spec in corpus.SIZES.items()
    )
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size",
        choices=sorted(corpus.SIZES),
        default="full",
        help=f"which corpus (default: full). {sizes}",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT / "data" / "corpus",
        help="corpora go to OUT/SIZE/ (default: data/corpus)",
    )
    parser.add_argument(
        "--raw",
        type=Path,
        default=REPO_ROOT / "data" / "raw",
        help="downloaded .deb files and extracted trees (default: data/raw)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="tracks encoded in parallel (default: CPU count)",
    )
    parser.add_argument(
        "--encoder",
        choices=("auto", "ffmpeg", "lame"),
        default="auto",
        help="MP3 encoder (default: ffmpeg with libmp3lame if present, else lame)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    return args


def summary(corpus_dir: Path) -> str:
    """Count, minutes and MB of MP3 per set and package."""
    lines = [f"{'set':<10} {'package':<28} {'tracks':>6} {'minutes':>8} {'MB':>7}"]
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    for track in corpus.tracks(corpus_dir):
        for package in (track.package, "(all)"):
            group = totals[f"{track.set}/{package}"]
            group["tracks"] += 1
            group["milliseconds"] += round(track.duration_s * 1000)
            group["bytes"] += track.path.stat().st_size
    for key in sorted(totals, key=lambda k: (k.split("/")[0], k.endswith("(all)"), k)):
        set_name, package = key.split("/", 1)
        group = totals[key]
        lines.append(
            f"{set_name:<10} {package:<28} {group['tracks']:>6} "
            f"{group['milliseconds'] / 60_000:>8.1f} {group['bytes'] / 1e6:>7.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    spec = corpus.SIZES[args.size]
    corpus_dir = args.out / args.size
    started = time.perf_counter()
    try:
        report = corpus.build_corpus(
            spec,
            out_dir=corpus_dir,
            raw_dir=args.raw,
            jobs=args.jobs,
            encoder=args.encoder,
            progress=not args.no_progress,
        )
    except corpus.CorpusBuildError as error:
        print(f"build_corpus: error: {error}", file=sys.stderr)
        return error.exit_code
    elapsed = time.perf_counter() - started

    for action in report.fetched:
        print(action)
    for skipped in report.skipped:
        print(f"skipped {skipped.package}:{skipped.original_path} ({skipped.reason})")
    for rel in report.removed:
        print(f"removed stale {rel}")
    print(
        f"{args.size} corpus in {corpus_dir}: encoded {len(report.encoded)}, "
        f"kept {len(report.reused)} existing, manifest "
        f"{'written' if report.manifest_written else 'unchanged'} "
        f"({corpus.manifest_hash(corpus_dir)[:12]}), {elapsed:.1f} s"
    )
    print(summary(corpus_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
