"""The ``dejavu-lab`` command line.

dejavu-lab [--db PATH] fingerprint DIR_OR_FILE... [--ext .mp3] [--jobs N]
dejavu-lab [--db PATH] recognize FILE [--json] [--top-k K]
dejavu-lab [--db PATH] stats
dejavu-lab [--db PATH] sketch [--jobs N]
dejavu-lab [--db PATH] recognize --mic [--seconds N] [--device D]
dejavu-lab [--db PATH] listen [--device D] [--json]
dejavu-lab copy --from SPEC --to SPEC
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._version import __version__
from .dejavu import JSON_KEYS
from .exceptions import DejavuLabError, StoreError
from .store import default_db_path

logger = logging.getLogger("dejavu_lab")


def _dejavu(args: argparse.Namespace, *, preset: str | None = None) -> Any:
    from .dejavu import Dejavu

    config: dict[str, Any] = {"database": args.db}
    if preset is not None:
        config["pipeline"] = preset
    return Dejavu(config)


def cmd_fingerprint(args: argparse.Namespace) -> int:
    from .store import open_store

    store = open_store(args.db)
    try:
        from .dejavu import Dejavu

        djv = Dejavu({"pipeline": args.preset} if args.preset else None, store=store)
        report = djv.fingerprint_directory(
            args.paths, args.ext or None, args.jobs, progress=not args.quiet
        )
    finally:
        store.close()
    print(report.summary())
    return 1 if report.failed and not report.added and not report.skipped else 0


def cmd_sketch(args: argparse.Namespace) -> int:
    from .dejavu import Dejavu
    from .store import open_store

    database = str(args.db)
    if "://" not in database and database != ":memory:":
        path = Path(database.removeprefix("duckdb:"))
        if not path.exists():  # never create an empty database here
            raise StoreError(f"no database at {path}: nothing to add sketches to")
    store = open_store(args.db)
    try:
        report = Dejavu(store=store).add_missing_sketches(
            progress=not args.quiet, nprocesses=args.jobs
        )
    finally:
        store.close()
    print(report.summary())
    return 1 if report.failed else 0


def cmd_recognize(args: argparse.Namespace) -> int:
    if args.mic:
        from .live.listening import record_and_match

        with _dejavu(args, preset=args.preset) as djv:
            result = record_and_match(djv, seconds=args.seconds, device=args.device)
    else:
        if args.file is None:
            raise DejavuLabError("recognize needs a FILE, or --mic to record from a microphone")
        with _dejavu(args, preset=args.preset) as djv:
            result = djv.match_file(args.file, top_k=args.top_k)
    gate_evidence = djv.pipeline.verifier.full_band_min_evidence
    if args.json:
        print(json.dumps(result.to_json_dict()))
        return 0
    if result.is_match:
        print(
            f"{result.song_name}  (song {result.song_id}) at {result.offset_seconds:.2f} s; "
            f"confidence {result.confidence:.1f}, {result.aligned_hashes}/"
            f"{result.input_hashes} hashes aligned; matched in {result.match_time_s * 1e3:.1f} ms"
            + (
                ""
                if result.speed == 1.0 and result.pitch_semitones == 0.0
                else f"; played at speed {result.speed:.3f}, "
                f"pitch {result.pitch_semitones:+.2f} semitones"
            )
        )
    else:
        print(no_match_text(result, gate_evidence=gate_evidence))
    if args.top_k and args.top_k > 1:
        for rank, candidate in enumerate(result.candidates, start=1):
            print(
                f"  {rank}. {candidate['song_name']} at {candidate['offset_seconds']:.2f} s, "
                f"hash confidence {candidate['confidence']:.1f}, "
                f"{candidate['aligned_hashes']} aligned"
                + ("" if candidate.get("z") is None else f", peak z {candidate['z']:.1f}")
            )
    return 0


def no_match_text(result: Any, *, gate_evidence: float) -> str:
    """The line ``recognize`` prints for "no match", with the channel gate's reason if it
    decided (``result.decided_by == "gate"``; ``gate_evidence`` is its bar)."""
    text = (
        f"no match (best bin {result.aligned_hashes} of {result.input_hashes} hashes, "
        f"confidence {result.confidence:.1f}); {result.match_time_s * 1e3:.1f} ms"
    )
    if result.decided_by == "gate":
        text += (
            "\n  the channel gate: the query kept its bass (it was not heard through a small "
            f"loudspeaker), so a match needs evidence r >= {gate_evidence:g}, as a clean copy "
            f"of a stored song far exceeds; the best candidate has r = {result.evidence:.2f}"
        )
    return text


def cmd_stats(args: argparse.Namespace) -> int:
    from .store import open_store

    store = open_store(
        args.db, read_only=not str(args.db).startswith(("mysql", "mariadb", "postgres"))
    )
    try:
        stats = store.stats()
        stored = store.read_params()
    finally:
        store.close()
    per_track = stats.size_bytes / stats.num_songs if stats.num_songs else 0.0
    print(f"database:      {args.db}")
    print(f"songs:         {stats.num_songs:,}")
    print(f"fingerprints:  {stats.num_fingerprints:,}")
    print(f"audio:         {stats.audio_seconds / 3600:.2f} h")
    print(f"size:          {stats.size_bytes / 1e6:.2f} MB ({per_track / 1e6:.3f} MB per song)")
    if stats.free_bytes:
        print(
            f"               of which {stats.free_bytes / 1e6:.2f} MB free blocks, "
            "reused by later writes"
        )
    for label, folder in _sidecars(str(args.db)):
        size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
        print(f"{label:<15}{size / 1e6:.2f} MB in {folder} (a cache, rebuilt when stale)")
    if stored:
        print(f"built with:    dejavu-lab {stored.get('version')}")
    return 0


def _sidecars(database: str) -> list[tuple[str, Path]]:
    """The index sidecars beside a DuckDB file that exist (label, folder)."""
    from .store.indexes.hash_index import sidecar_path
    from .store.indexes.song_index import song_sidecar_path
    from .store.indexes.song_sketches import sketch_sidecar_path
    from .store.indexes.song_stretches import stretch_sidecar_path

    if "://" in database or database == ":memory:":
        return []
    found = [
        ("hash index:", sidecar_path(database)),
        ("song index:", song_sidecar_path(database)),
        ("stretches:", stretch_sidecar_path(database)),
        ("sketches:", sketch_sidecar_path(database)),
    ]
    return [(label, folder) for label, folder in found if folder.is_dir()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dejavu-lab",
        description="Fingerprint music once, then recognise a few seconds of it from a file "
        "or a microphone.",
        epilog="The database defaults to $DEJAVU_LAB_DB or ./fingerprints.duckdb.",
    )
    parser.add_argument("--version", action="version", version=f"dejavu-lab {__version__}")
    parser.add_argument(
        "--db",
        default=default_db_path(),
        help="fingerprint database: a DuckDB file, duckdb:PATH, mysql://user@host/db or "
        "postgresql://user@host/db (default: %(default)s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fp = commands.add_parser(
        "fingerprint",
        help="fingerprint audio files and directories",
        description="Fingerprint audio files (directories are searched recursively). Files "
        "already in the database, even renamed, are skipped; a killed run can simply be "
        "started again.",
    )
    fp.add_argument("paths", nargs="+", metavar="DIR_OR_FILE")
    fp.add_argument(
        "--ext",
        action="append",
        metavar=".EXT",
        help="audio extension to look for (repeatable; default: all supported)",
    )
    fp.add_argument(
        "--jobs", "-j", type=int, default=None, help="worker processes (default: CPU count)"
    )
    fp.add_argument(
        "--preset",
        default=None,
        help="pipeline preset for a new database: default, dejavu or invariant (triplet "
        "hashes for speed and pitch changes)",
    )
    fp.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    fp.set_defaults(func=cmd_fingerprint)

    rec = commands.add_parser(
        "recognize",
        help="recognise an audio file (or the microphone)",
        description="Name the song a clip comes from, where in it the clip starts, and how "
        "sure the answer is; 'no match' for music the database has never seen.",
    )
    rec.add_argument("file", nargs="?", metavar="FILE")
    rec.add_argument(
        "--json", action="store_true", help="print one JSON object: " + ", ".join(JSON_KEYS)
    )
    rec.add_argument("--top-k", type=int, default=None, help="list this many candidates")
    rec.add_argument(
        "--preset",
        default=None,
        help="match with this preset (same database), e.g. speed: also clips played "
        "faster, slower or at another pitch (default: the database's own)",
    )
    rec.add_argument("--mic", action="store_true", help="record from the microphone")
    rec.add_argument(
        "--seconds",
        type=float,
        default=10.0,
        help="seconds to record with --mic (default: %(default)s)",
    )
    rec.add_argument("--device", default=None, help="input device index or name (--mic)")
    rec.set_defaults(func=cmd_recognize)

    st = commands.add_parser(
        "stats",
        help="songs, fingerprints and database size",
        description="Print songs, fingerprints and database size.",
    )
    st.set_defaults(func=cmd_stats)

    sk = commands.add_parser(
        "sketch",
        help="add the sketches missing from songs fingerprinted by an earlier version",
        description="Add the sketches missing from songs fingerprinted by an earlier version "
        "(they are matched by a stricter fallback without one), without fingerprinting them "
        "again. The files must still be where they were fingerprinted, unchanged; a song "
        "whose file is missing or changed is listed and left as it is (exit status 1). A "
        "killed run can simply be started again.",
    )
    sk.add_argument(
        "--jobs", "-j", type=int, default=None, help="worker processes (default: CPU count)"
    )
    sk.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    sk.set_defaults(func=cmd_sketch)

    _add_optional_commands(commands)
    return parser


def _add_optional_commands(commands: Any) -> None:
    """Commands contributed by optional modules (listen, copy), when present."""
    with contextlib.suppress(ImportError):
        _add_listen(commands)
    for module_name in ("store.copy",):
        try:
            module = __import__(f"dejavu_lab.{module_name}", fromlist=["add_cli"])
        except ImportError:
            continue
        add_cli = getattr(module, "add_cli", None)
        if add_cli is not None:
            add_cli(commands)


def cmd_listen(args: argparse.Namespace) -> int:
    """``dejavu-lab listen``: status lines on stderr, the answer on stdout."""
    from .dejavu import Dejavu
    from .live.listening import format_answer, format_update, listen
    from .live.streaming import StreamUpdate

    heard = [0.0]

    def show(update: StreamUpdate) -> None:
        heard[0] = update.heard_seconds
        print(format_update(update, args.confirmations), file=sys.stderr, flush=True)

    with Dejavu({"database": args.db}) as djv:
        print(
            f"listening on {args.device or 'the default input device'} for up to "
            f"{args.max_seconds:g} s (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        result = listen(
            djv,
            device=args.device,
            max_seconds=args.max_seconds,
            window_s=args.window,
            step_s=args.step,
            confirmations=args.confirmations,
            on_result=show,
        )
    if args.json:
        payload = result.to_json_dict()
        payload["heard_seconds"] = round(heard[0], 3)
        print(json.dumps(payload))
    else:
        print(format_answer(result, heard[0]))
    return 0


def _add_listen(subparsers: Any) -> None:
    """``dejavu-lab listen`` (needs the live-audio modules)."""
    from .live.listening import DEFAULT_MAX_SECONDS
    from .live.streaming import DEFAULT_CONFIRMATIONS, DEFAULT_STEP_S, DEFAULT_WINDOW_S

    parser = subparsers.add_parser(
        "listen",
        help="listen to the microphone until a song is recognised",
        description="Stream the microphone through the recogniser: a status line a step on "
        "stderr, then the song and where listening started in it (or 'no match') on stdout.",
    )
    parser.add_argument("--device", default=None, help="input device index or name")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=DEFAULT_MAX_SECONDS,
        help="give up after this much audio (default: %(default)s)",
    )
    parser.add_argument(
        "--window",
        type=float,
        default=DEFAULT_WINDOW_S,
        help="seconds of audio recognised at each step (default: %(default)s)",
    )
    parser.add_argument(
        "--step",
        type=float,
        default=DEFAULT_STEP_S,
        help="seconds between recognition steps (default: %(default)s)",
    )
    parser.add_argument(
        "--confirmations",
        type=int,
        default=DEFAULT_CONFIRMATIONS,
        help="consecutive agreeing steps before answering (default: %(default)s)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: the keys of recognize --json plus heard_seconds",
    )
    parser.set_defaults(func=cmd_listen)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dejavu-lab`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except DejavuLabError as error:
        print(f"dejavu-lab: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dejavu-lab: interrupted; everything already stored is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
