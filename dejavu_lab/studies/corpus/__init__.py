"""The free-music corpus: build it from Debian soundtrack packages, read it back.

A built corpus is a folder ``<out>/<size>/`` holding ``reference/*.mp3`` (songs
to fingerprint), ``unseen/*.mp3`` (same-genre songs that are never
fingerprinted, to measure false matches) and ``manifest.csv``, one row a file.
``data/build_corpus.py`` is the command line over :func:`build_corpus`;
``data/README.md`` says what is in the corpus and why.

Reading a corpus::

    from dejavu_lab.studies import corpus
    corpus_dir = corpus.default_corpus_dir("small")
    for track in corpus.tracks(corpus_dir, set="reference"):
        print(track.name, track.duration_s, track.license)
    provenance = corpus.manifest_hash(corpus_dir)

Every name below imports from this package; each module holds one step:

- :mod:`.manifest`: where a corpus lives and what its manifest lists
  (:func:`~.manifest.tracks`, :class:`~.manifest.Track`, :func:`~.manifest.manifest_hash`);
- :mod:`.spec`: what to build, :class:`~.spec.CorpusSpec`, and the two sizes, ``SIZES``;
- :mod:`.errors`: the errors of a build and the exit codes of the command line
  (:class:`~.errors.CorpusBuildError`);
- :mod:`.fetch`: ``apt-get download`` and ``dpkg -x`` of each package, once
  (:func:`~.fetch.fetch_package`);
- :mod:`.licenses`: a short license name from a Debian ``copyright`` file
  (:func:`~.licenses.parse_license`);
- :mod:`.naming`: the file names of the MP3s (:func:`~.naming.output_file_name`);
- :mod:`.scan`: the music of an extracted package (:func:`~.scan.scan_package`);
- :mod:`.split`: the reference and unseen sets (:func:`~.split.split_tracks`);
- :mod:`.audio`: the stems decoded and mixed, the MP3 encoded
  (:func:`~.audio.decode_mix`, :func:`~.audio.write_mp3`);
- :mod:`.build`: the whole build (:func:`~.build.build_corpus`).

A function or constant replaced for a test is replaced in the module whose code looks it
up (``corpus.fetch``, ``corpus.audio``, ...), not here.
"""

from __future__ import annotations

from .audio import MP3_BITRATE_KBPS, PEAK_CEILING, SAMPLE_RATE, decode_mix, find_encoder, write_mp3
from .build import BuildReport, build_corpus
from .errors import (
    EXIT_DEBIAN_TOOLS_UNAVAILABLE,
    EXIT_DOWNLOAD_FAILED,
    EXIT_ENCODER_UNAVAILABLE,
    CorpusBuildError,
    DebianToolsUnavailable,
    DownloadError,
    EncoderUnavailable,
)
from .fetch import EXTRACTED_MARKER, download_deb, extracted_version, fetch_package, mark_extracted
from .licenses import parse_license, read_package_license
from .manifest import (
    ENV_CORPUS_DIR,
    MANIFEST_COLUMNS,
    MANIFEST_NAME,
    REPO_ROOT,
    SETS,
    Track,
    default_corpus_dir,
    file_sha1,
    load_manifest,
    manifest_hash,
    tracks,
)
from .naming import output_file_name, slugify
from .scan import (
    ARCHIVE_DIR_SUFFIX,
    AUDIO_SUFFIXES,
    FOF_STEMS,
    SkippedFile,
    SourceTrack,
    scan_package,
    unpack_archives,
)
from .spec import SIZES, WIDE_UNSEEN_PACKAGES, CorpusSpec
from .split import split_tracks

__all__ = [
    "ARCHIVE_DIR_SUFFIX",
    "AUDIO_SUFFIXES",
    "ENV_CORPUS_DIR",
    "EXIT_DEBIAN_TOOLS_UNAVAILABLE",
    "EXIT_DOWNLOAD_FAILED",
    "EXIT_ENCODER_UNAVAILABLE",
    "EXTRACTED_MARKER",
    "FOF_STEMS",
    "MANIFEST_COLUMNS",
    "MANIFEST_NAME",
    "MP3_BITRATE_KBPS",
    "PEAK_CEILING",
    "REPO_ROOT",
    "SAMPLE_RATE",
    "SETS",
    "SIZES",
    "WIDE_UNSEEN_PACKAGES",
    "BuildReport",
    "CorpusBuildError",
    "CorpusSpec",
    "DebianToolsUnavailable",
    "DownloadError",
    "EncoderUnavailable",
    "SkippedFile",
    "SourceTrack",
    "Track",
    "build_corpus",
    "decode_mix",
    "default_corpus_dir",
    "download_deb",
    "extracted_version",
    "fetch_package",
    "file_sha1",
    "find_encoder",
    "load_manifest",
    "manifest_hash",
    "mark_extracted",
    "output_file_name",
    "parse_license",
    "read_package_license",
    "scan_package",
    "slugify",
    "split_tracks",
    "tracks",
    "unpack_archives",
    "write_mp3",
]
