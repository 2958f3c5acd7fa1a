"""Tests of dejavu_lab.studies.corpus and data/build_corpus.py: offline, synthetic audio only."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dejavu_lab.exceptions import ParameterError
from dejavu_lab.studies import corpus

REPO_ROOT = Path(__file__).resolve().parents[1]
CLI = REPO_ROOT / "data" / "build_corpus.py"


def _has_encoder() -> bool:
    try:
        corpus.find_encoder()
    except corpus.EncoderUnavailable:
        return False
    return True


needs_encoder = pytest.mark.skipif(not _has_encoder(), reason="no ffmpeg/lame")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)


def write_tone(
    path: Path,
    rng: np.random.Generator,
    *,
    seconds: float,
    sample_rate: int = 22_050,
    channels: int = 2,
    amplitude: float = 0.3,
) -> None:
    """A chord of three random tones plus a little noise (format from the suffix)."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    freqs = rng.uniform(200.0, 2_000.0, size=3)
    mono = sum(np.sin(2 * np.pi * f * t) for f in freqs) / 3
    mono = mono + 0.01 * rng.standard_normal(t.size)
    samples = np.repeat((amplitude * mono)[:, None], channels, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples.astype(np.float32), sample_rate)


# ---------------------------------------------------------------- reading


MANIFEST = """\
file,set,package,package_version,original_path,stems,duration_s,sample_rate,license,sha1
reference/pkg-a__one.mp3,reference,pkg-a,1.0,/usr/share/games/a/one.ogg,,61.000,44100,GPL-2+,aaa
reference/pkg-b__two.mp3,reference,pkg-b,2.0,/usr/share/games/b/two/song.ogg,song.ogg+guitar.ogg,75.500,44100,CC-BY-SA-3.0,bbb
unseen/pkg-a__three.mp3,unseen,pkg-a,1.0,/usr/share/games/a/three.ogg,,90.250,44100,GPL-2+,ccc
"""


@pytest.fixture
def fake_corpus(tmp_path: Path) -> Path:
    corpus_dir = tmp_path / "corpus"
    for line in MANIFEST.splitlines()[1:]:
        path = corpus_dir / line.split(",")[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not really an mp3")
    (corpus_dir / corpus.MANIFEST_NAME).write_text(MANIFEST)
    return corpus_dir


def test_load_manifest_reads_every_column(fake_corpus: Path) -> None:
    frame = corpus.load_manifest(fake_corpus)
    assert list(frame.columns) == list(corpus.MANIFEST_COLUMNS)
    assert len(frame) == 3
    assert frame["duration_s"].tolist() == [61.0, 75.5, 90.25]
    assert frame["sample_rate"].tolist() == [44100] * 3
    # An empty stems cell stays an empty string, not NaN.
    assert frame["stems"].tolist() == ["", "song.ogg+guitar.ogg", ""]


def test_tracks_filters_by_set_and_gives_absolute_paths(fake_corpus: Path) -> None:
    every = corpus.tracks(fake_corpus)
    reference = corpus.tracks(fake_corpus, set="reference")
    unseen = corpus.tracks(fake_corpus, set="unseen")
    assert [t.name for t in every] == ["pkg-a__one", "pkg-b__two", "pkg-a__three"]
    assert [t.name for t in reference] == ["pkg-a__one", "pkg-b__two"]
    assert [t.name for t in unseen] == ["pkg-a__three"]
    for track in every:
        assert track.path.is_absolute() and track.path.is_file()
    two = reference[1]
    assert two == corpus.Track(
        path=(fake_corpus / "reference" / "pkg-b__two.mp3").resolve(),
        set="reference",
        package="pkg-b",
        original_path="/usr/share/games/b/two/song.ogg",
        duration_s=75.5,
        license="CC-BY-SA-3.0",
        sha1="bbb",
    )


def test_tracks_rejects_an_unknown_set(fake_corpus: Path) -> None:
    with pytest.raises(ParameterError, match="set='train'"):
        corpus.tracks(fake_corpus, set="train")


def test_manifest_hash_is_the_sha1_of_the_file(fake_corpus: Path) -> None:
    manifest = fake_corpus / corpus.MANIFEST_NAME
    before = corpus.manifest_hash(fake_corpus)
    assert before == hashlib.sha1(manifest.read_bytes()).hexdigest()
    manifest.write_text(MANIFEST.replace("aaa", "abc"))
    assert corpus.manifest_hash(fake_corpus) != before


@pytest.mark.parametrize("call", [corpus.load_manifest, corpus.tracks, corpus.manifest_hash])
def test_missing_manifest_says_how_to_build_it(tmp_path: Path, call: object) -> None:
    with pytest.raises(FileNotFoundError, match=r"make corpus.*make corpus-small"):
        call(tmp_path)  # type: ignore[operator]


def test_manifest_missing_a_column_is_refused(fake_corpus: Path) -> None:
    manifest = fake_corpus / corpus.MANIFEST_NAME
    lines = [",".join(line.split(",")[:-1]) for line in MANIFEST.splitlines()]
    manifest.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"missing columns.*sha1"):
        corpus.load_manifest(fake_corpus)


def test_default_corpus_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(corpus.ENV_CORPUS_DIR, raising=False)
    assert corpus.default_corpus_dir("small") == REPO_ROOT / "data" / "corpus" / "small"
    assert corpus.default_corpus_dir() == REPO_ROOT / "data" / "corpus" / "full"
    monkeypatch.setenv(corpus.ENV_CORPUS_DIR, str(tmp_path))
    assert corpus.default_corpus_dir("full") == tmp_path
    with pytest.raises(ParameterError, match="size='huge'"):
        corpus.default_corpus_dir("huge")


# ---------------------------------------------------------------- text helpers


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("battle-epic", "battle-epic"),
        ("breaking_the_chains", "breaking-the-chains"),
        ("Escape from chaosland", "escape-from-chaosland"),
        ("  Ünïcödé  Sóng!! ", "unicode-song"),
        ("wesnoth-1.16-music", "wesnoth-1.16-music"),
        ("../../etc/passwd", "etc-passwd"),
        ("???", "untitled"),
    ],
)
def test_slugify(text: str, slug: str) -> None:
    assert corpus.slugify(text) == slug


def test_output_file_name() -> None:
    name = corpus.output_file_name("wesnoth-1.16-music", "battle-epic")
    assert name == "wesnoth-1.16-music__battle-epic.mp3"
    assert corpus.output_file_name("singularity-music", "A New Journey") == (
        "singularity-music__a-new-journey.mp3"
    )


DEP5 = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Source: http://www.asc-hq.de/

Files: debian/*
Copyright: 2004-2006, Someone
License: GPL-2+

Files: *
Copyright: 2002 Michael Kievernagel
License: CC-BY-4.0

License: GPL-2+
 This program is free software; you can redistribute it.
"""

CC_FREE_TEXT = """\
The songs are Copyright (c) 2009 El Senator and are licenced under the terms
of the Creative Commons Attribution ShareAlike licence 3.0:

Packaging is licensed under the GPL, see /usr/share/common-licenses/GPL.
"""

CC_LEGAL_CODE = """\
License

   THE WORK IS PROVIDED UNDER THE TERMS OF THIS CREATIVE COMMONS PUBLIC LICENSE.
    e. "License Elements" means the following high-level license
       attributes: Attribution, ShareAlike.
       (e.g., Attribution-ShareAlike 3.0 US)

Debian packaging is licensed under GPLv2 or later.
"""

MIT_TEXT = """\
The songs are all Copyright (c) 2006/2007 Carlos Viola Iborra

Permission is hereby granted, free of charge, to any person obtaining a copy

The Debian packaging is licensed under the GPL. On Debian systems, the
complete text of the GNU General Public License is in /usr/share/common-licenses.
"""

GPL_TEXT = """\
License:
        This program is free software; you can redistribute it and/or modify
        it under the terms of the GNU General Public License version 2
        or at your option any later version.

        fonts/ are under the GNU Library General Public License version 2.
        Permission is hereby granted, free of charge, to any person ...
"""


@pytest.mark.parametrize(
    ("text", "license_name"),
    [
        (DEP5, "CC-BY-4.0"),
        (CC_FREE_TEXT, "CC-BY-SA-3.0"),
        (CC_LEGAL_CODE, "CC-BY-SA-3.0"),
        (MIT_TEXT, "MIT"),
        (GPL_TEXT, "GPL-2+"),
        ("Distributed under the GNU Lesser General Public License version 2.1.", "LGPL-2.1"),
        ("All rights reserved.", "unknown"),
    ],
)
def test_parse_license(text: str, license_name: str) -> None:
    assert corpus.parse_license(text) == license_name


def test_parse_license_dep5_without_a_star_stanza_takes_the_first_upstream_one() -> None:
    text = DEP5.replace("Files: *", "Files: music/*")
    assert corpus.parse_license(text) == "CC-BY-4.0"


# ---------------------------------------------------------------- selecting


def fake_sources(sizes: dict[str, int]) -> list[corpus.SourceTrack]:
    return [
        corpus.SourceTrack(
            package=package,
            package_version="1",
            original_path=f"/usr/share/games/{package}/track{i:02d}.ogg",
            stems=(Path(f"/nonexistent/{package}/track{i:02d}.ogg"),),
            duration_s=120.0,
            license="GPL-2+",
            file_name=f"{package}__track{i:02d}.mp3",
        )
        for package, n in sizes.items()
        for i in range(n)
    ]


def _per_package(tracks: list[corpus.SourceTrack]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for track in tracks:
        counts[track.package] = counts.get(track.package, 0) + 1
    return counts


def test_split_full_sizes_spreads_unseen_over_every_package() -> None:
    sizes = {"asc": 3, "fof-m": 4, "fof-s": 4, "sing": 14, "wes": 32}
    sources = fake_sources(sizes)
    split = corpus.split_tracks(sources, n_reference=45, n_unseen=12)
    assert len(split["reference"]) == 45 and len(split["unseen"]) == 12
    assert _per_package(split["unseen"]) == {"asc": 1, "fof-m": 1, "fof-s": 1, "sing": 3, "wes": 6}
    names = [s.file_name for s in split["reference"] + split["unseen"]]
    assert len(set(names)) == len(names) == 57  # disjoint, nothing lost
    # Deterministic whatever the input order.
    again = corpus.split_tracks(sources[::-1], n_reference=45, n_unseen=12)
    assert again == split
    # Each set comes sorted by (package, original path).
    for tracks in split.values():
        keys = [(s.package, s.original_path) for s in tracks]
        assert keys == sorted(keys)


def test_split_small_sizes_and_thinning() -> None:
    sources = fake_sources({"asc": 3, "fof-m": 4, "fof-s": 4})
    split = corpus.split_tracks(sources, n_reference=8, n_unseen=3)
    assert _per_package(split["unseen"]) == {"asc": 1, "fof-m": 1, "fof-s": 1}
    assert _per_package(split["reference"]) == {"asc": 2, "fof-m": 3, "fof-s": 3}
    # The middle track of each sorted package list is the unseen one.
    assert [s.file_name for s in split["unseen"]] == [
        "asc__track01.mp3",
        "fof-m__track02.mp3",
        "fof-s__track02.mp3",
    ]
    fewer = corpus.split_tracks(sources, n_reference=4, n_unseen=3)
    assert len(fewer["reference"]) == 4
    assert fewer["unseen"] == split["unseen"]
    assert not {s.file_name for s in fewer["reference"]} & {s.file_name for s in fewer["unseen"]}


def test_corpus_spec_is_validated() -> None:
    with pytest.raises(ParameterError, match="n_unseen=-1"):
        corpus.CorpusSpec(packages=("a",), n_reference=1, n_unseen=-1)
    with pytest.raises(ParameterError, match="packages"):
        corpus.CorpusSpec(packages=(), n_reference=1, n_unseen=1)


# ---------------------------------------------------------------- scanning and decoding


def make_package_tree(root: Path, package: str, rng: np.random.Generator) -> Path:
    """An extracted package: 2 tracks of 61 s, a 30-s jingle, a FoF stem folder."""
    extracted = root / "extracted" / package
    music = extracted / "usr" / "share" / "games" / package / "music"
    write_tone(music / "Long One.flac", rng, seconds=61.0)
    write_tone(music / "long_two.flac", rng, seconds=61.0, channels=1)
    write_tone(music / "jingle.flac", rng, seconds=30.0)
    doc = extracted / "usr" / "share" / "doc" / package
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(CC_FREE_TEXT)
    write_tone(doc / "sample.flac", rng, seconds=61.0)  # under doc/: never music
    corpus.mark_extracted(extracted, deb_name=f"{package}_1.0_all.deb", version="1.0")
    return extracted


def test_scan_package_groups_stems_and_skips_short_files(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    extracted = make_package_tree(tmp_path, "fake-music", rng)
    band = extracted / "usr" / "share" / "games" / "fake-music" / "songs" / "Band Song"
    write_tone(band / "song.ogg", rng, seconds=35.0)
    write_tone(band / "guitar.ogg", rng, seconds=35.5)
    write_tone(band / "preview.ogg", rng, seconds=35.0)

    found, skipped = corpus.scan_package(extracted, "fake-music", min_duration_s=31.0)
    by_name = {s.file_name: s for s in found}
    assert sorted(by_name) == [
        "fake-music__band-song.mp3",
        "fake-music__long-one.mp3",
        "fake-music__long-two.mp3",
    ]
    band_song = by_name["fake-music__band-song.mp3"]
    assert [p.name for p in band_song.stems] == ["song.ogg", "guitar.ogg"]
    assert band_song.stems_label == "song.ogg+guitar.ogg"
    assert band_song.original_path.endswith("/songs/Band Song/song.ogg")
    assert band_song.duration_s == pytest.approx(35.5, abs=0.01)
    assert band_song.license == "CC-BY-SA-3.0" and band_song.package_version == "1.0"
    assert by_name["fake-music__long-one.mp3"].original_path == (
        "/usr/share/games/fake-music/music/Long One.flac"
    )
    assert [(s.original_path.rsplit("/", 1)[-1], s.reason) for s in skipped] == [
        ("jingle.flac", "30.0 s < 31 s")
    ]


def test_decode_mix_sums_resamples_and_guards_the_peak(tmp_path: Path) -> None:
    rate = 22_050
    t = np.arange(rate) / rate
    loud = (0.8 * np.sin(2 * np.pi * 441 * t)).astype(np.float32)
    sf.write(str(tmp_path / "song.flac"), np.stack([loud, loud], axis=1), rate)
    sf.write(str(tmp_path / "guitar.flac"), loud[: rate // 2], rate)  # mono, shorter
    mix = corpus.decode_mix([tmp_path / "song.flac", tmp_path / "guitar.flac"])
    assert mix.shape == (2 * rate, 2) and mix.dtype == np.float32
    assert np.max(np.abs(mix)) == pytest.approx(corpus.PEAK_CEILING, abs=0.02)
    # Where only song.flac plays, the level is its own, scaled like the rest.
    scale = corpus.PEAK_CEILING / 1.6
    assert np.max(np.abs(mix[rate + 100 :])) == pytest.approx(0.8 * scale, abs=0.03)

    quiet = corpus.decode_mix([tmp_path / "song.flac"], sample_rate=rate)
    assert np.max(np.abs(quiet)) == pytest.approx(0.8, abs=5e-3)  # left as is


# ---------------------------------------------------------------- building


@needs_encoder
def test_build_is_idempotent_and_skips_short_tracks(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    raw = tmp_path / "raw"
    make_package_tree(raw, "fake-music", rng)
    spec = corpus.CorpusSpec(packages=("fake-music",), n_reference=1, n_unseen=1)
    out = tmp_path / "corpus" / "tiny"

    first = corpus.build_corpus(spec, out_dir=out, raw_dir=raw, jobs=2, progress=False)
    assert first.fetched == []  # the tree was already extracted: no download
    assert len(first.encoded) == 2 and first.reused == [] and first.manifest_written
    assert [s.original_path.rsplit("/", 1)[-1] for s in first.skipped] == ["jingle.flac"]

    every = corpus.tracks(out)
    assert sorted(t.set for t in every) == ["reference", "unseen"]
    for track in every:
        info = sf.info(str(track.path))
        assert info.samplerate == corpus.SAMPLE_RATE
        assert track.duration_s == pytest.approx(61.0, abs=0.05)
        assert track.sha1 == corpus.file_sha1(track.path)
        assert track.license == "CC-BY-SA-3.0"
    frame = corpus.load_manifest(out)
    assert set(frame["package_version"]) == {"1.0"}

    stamps = {t.path: t.path.stat().st_mtime_ns for t in every}
    digest = corpus.manifest_hash(out)
    second = corpus.build_corpus(spec, out_dir=out, raw_dir=raw, jobs=2, progress=False)
    assert second.encoded == [] and len(second.reused) == 2
    assert not second.manifest_written and second.removed == []
    assert corpus.manifest_hash(out) == digest
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps

    # A deleted MP3 and a damaged one are made again; nothing else is.
    gone, damaged = every
    gone.path.unlink()
    with damaged.path.open("ab") as stream:
        stream.write(b"junk")
    third = corpus.build_corpus(spec, out_dir=out, raw_dir=raw, jobs=1, progress=False)
    assert sorted(third.encoded) == sorted(f"{t.set}/{t.path.name}" for t in every)
    assert corpus.manifest_hash(out) == digest  # same input, same bytes

    # Without its manifest, the corpus is listed again from the files alone.
    (out / corpus.MANIFEST_NAME).unlink()
    fourth = corpus.build_corpus(spec, out_dir=out, raw_dir=raw, jobs=1, progress=False)
    assert fourth.encoded == [] and fourth.manifest_written
    assert corpus.manifest_hash(out) == digest

    # A file the spec no longer selects is removed.
    stray = out / "reference" / "fake-music__old.mp3"
    stray.write_bytes(b"old")
    fifth = corpus.build_corpus(spec, out_dir=out, raw_dir=raw, jobs=1, progress=False)
    assert fifth.removed == ["reference/fake-music__old.mp3"] and not stray.exists()


@needs_encoder
def test_unseen_packages_widen_the_unseen_set_only(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    raw = tmp_path / "raw"
    make_package_tree(raw, "fake-music", rng)
    # A package shipping its music in a .pk3 (zip) archive, as Nexuiz and UFO:AI do.
    archived = raw / "extracted" / "fake-archive"
    staging = tmp_path / "staging"
    for index in range(3):
        write_tone(staging / "music" / f"theme{index}.flac", rng, seconds=61.0)
    game = archived / "usr" / "share" / "games" / "fake-archive"
    game.mkdir(parents=True)
    with zipfile.ZipFile(game / "0music.pk3", "w") as bundle:
        for path in sorted((staging / "music").iterdir()):
            bundle.write(path, f"music/{path.name}")
        bundle.writestr("maps/readme.txt", "not audio")
    (archived / "usr" / "share" / "doc" / "fake-archive").mkdir(parents=True)
    (archived / "usr" / "share" / "doc" / "fake-archive" / "copyright").write_text(GPL_TEXT)
    corpus.mark_extracted(archived, deb_name="fake-archive_2.0_all.deb", version="2.0")

    narrow = corpus.CorpusSpec(packages=("fake-music",), n_reference=1, n_unseen=1)
    wide = corpus.CorpusSpec(
        packages=("fake-music",),
        n_reference=1,
        n_unseen=1,
        unseen_packages=("fake-archive",),
        unseen_per_package=2,
    )
    corpus.build_corpus(narrow, out_dir=tmp_path / "narrow", raw_dir=raw, progress=False)
    report = corpus.build_corpus(wide, out_dir=tmp_path / "wide", raw_dir=raw, progress=False)
    before = {(t.set, t.path.name, t.sha1) for t in corpus.tracks(tmp_path / "narrow")}
    after = {(t.set, t.path.name, t.sha1) for t in corpus.tracks(tmp_path / "wide")}
    assert before < after  # the same reference and unseen tracks, and more unseen ones
    added = sorted(name for set_name, name, _ in after - before if set_name == "unseen")
    assert added == ["fake-archive__theme0.mp3", "fake-archive__theme2.mp3"]  # spread evenly
    assert all(set_name == "unseen" for set_name, _, _ in after - before)
    assert any("not picked" in s.reason for s in report.skipped)
    assert (game / "0music.pk3.unpacked" / "music" / "theme1.flac").is_file()
    with pytest.raises(ParameterError, match="both"):
        corpus.CorpusSpec(packages=("a",), n_reference=1, n_unseen=1, unseen_packages=("a",))


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_fetch_package_extracts_a_local_deb_once(tmp_path: Path, rng: np.random.Generator) -> None:
    tree = tmp_path / "pkg"
    write_tone(tree / "usr/share/games/tiny/music/theme.flac", rng, seconds=1.0)
    (tree / "usr/share/doc/tiny-music").mkdir(parents=True)
    (tree / "usr/share/doc/tiny-music/copyright").write_text(GPL_TEXT)
    (tree / "DEBIAN").mkdir()
    (tree / "DEBIAN/control").write_text(
        "Package: tiny-music\nVersion: 1:2.3-4\nArchitecture: all\n"
        "Maintainer: Test <test@example.org>\nDescription: test music\n"
    )
    raw = tmp_path / "raw"
    (raw / "debs").mkdir(parents=True)
    deb = raw / "debs" / "tiny-music_2.3-4_all.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(tree), str(deb)],
        check=True,
        capture_output=True,
    )

    extracted, actions = corpus.fetch_package("tiny-music", raw)
    assert actions == ["extracted tiny-music_2.3-4_all.deb"]  # no download: the .deb is there
    assert corpus.extracted_version(extracted) == "1:2.3-4"
    found, _ = corpus.scan_package(extracted, "tiny-music", min_duration_s=0.5)
    assert [s.file_name for s in found] == ["tiny-music__theme.mp3"]
    assert found[0].license == "GPL-2+"
    assert corpus.fetch_package("tiny-music", raw) == (extracted, [])


def test_missing_debian_tools_is_exit_code_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No tool on PATH, as corpus.fetch._require_tool looks it up.
    monkeypatch.setattr(corpus.fetch.shutil, "which", lambda _tool: None)
    with pytest.raises(corpus.DebianToolsUnavailable, match="apt-get") as caught:
        corpus.fetch_package("asc-music", tmp_path)
    assert caught.value.exit_code == 3
    assert not (tmp_path / "extracted" / "asc-music").exists()


FAKE_APT_GET = """\
#!/bin/sh
echo "$@" >> "{log}"
case "$*" in
  *download*) echo "E: Unable to locate package $3" >&2; exit 100;;
esac
"""


def test_failed_download_names_the_package_and_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir, log = tmp_path / "bin", tmp_path / "apt.log"
    bin_dir.mkdir()
    fake = bin_dir / "apt-get"
    fake.write_text(FAKE_APT_GET.format(log=log))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    with pytest.raises(corpus.DownloadError, match="registry must be reachable") as caught:
        corpus.fetch_package("no-such-music", tmp_path / "raw")
    assert caught.value.exit_code == 5
    assert "apt-get download no-such-music failed" in str(caught.value)
    assert "Unable to locate package no-such-music" in str(caught.value)
    calls = log.read_text().splitlines()
    if os.geteuid() == 0:  # no package lists: one `apt-get update`, then one more try
        assert calls == ["-q download no-such-music", "-q update", "-q download no-such-music"]
    else:
        assert calls == ["-q download no-such-music"]
    # Nothing half-done is left behind.
    assert list((tmp_path / "raw" / "debs").iterdir()) == []
    assert not (tmp_path / "raw" / "extracted" / "no-such-music").exists()


def test_cli_exits_3_without_debian_tools(tmp_path: Path) -> None:
    # python's own folder only on PATH: no apt-get, no dpkg.
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    result = subprocess.run(
        [
            *(sys.executable, str(CLI), "--size", "small", "--no-progress"),
            *("--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "corpus")),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 3, result.stderr
    assert "apt-get" in result.stderr and "Traceback" not in result.stderr


def test_cli_help_lists_sizes_and_exit_codes() -> None:
    result = subprocess.run(
        [sys.executable, str(CLI), "--help"], capture_output=True, text=True, check=True
    )
    assert "--size" in result.stdout and "--jobs" in result.stdout
    assert "3 Debian tools" in result.stdout
