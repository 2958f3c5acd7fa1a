"""The dejavu-lab command line, including the --json contract."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
from conftest import SONG_RATE

from dejavu_lab import Recognition
from dejavu_lab.cli import JSON_KEYS, main, no_match_text
from dejavu_lab.studies.channel import change_speed
from dejavu_lab.studies.synth import synth_song, write_synth_songs

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str, cwd: Path, env_db: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DEJAVU_LAB_DB", None)
    if env_db:
        env["DEJAVU_LAB_DB"] = env_db
    return subprocess.run(
        [sys.executable, "-m", "dejavu_lab.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_fingerprint_recognize_stats_round_trip(tmp_path: Path) -> None:
    music = tmp_path / "music"
    write_synth_songs(music, [1, 2, 3], duration_s=20.0)
    done = _run("fingerprint", str(music), "--ext", ".wav", "--jobs", "1", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "3 added" in done.stdout
    assert (tmp_path / "fingerprints.duckdb").exists()  # the default database

    clip = tmp_path / "clip.wav"
    sf.write(clip, synth_song(2, 20.0, SONG_RATE)[6 * SONG_RATE : 10 * SONG_RATE], SONG_RATE)
    answer = _run("recognize", str(clip), "--json", cwd=tmp_path)
    assert answer.returncode == 0, answer.stderr
    payload = json.loads(answer.stdout)  # stdout is exactly one JSON object
    assert tuple(payload) == JSON_KEYS
    assert payload["song_name"] == "synth_002"
    assert abs(payload["offset_seconds"] - 6.0) < 0.05
    assert payload["speed"] == 1.0 and payload["pitch_semitones"] == 0.0
    assert 0 < payload["false_match_probability"] <= 1e-3  # the default's threshold

    faster = tmp_path / "faster.wav"
    excerpt = synth_song(2, 20.0, SONG_RATE)[6 * SONG_RATE : 10 * SONG_RATE + SONG_RATE // 4]
    sf.write(faster, change_speed(excerpt, SONG_RATE, factor=1.04)[: 4 * SONG_RATE], SONG_RATE)
    answer = _run("recognize", str(faster), "--json", "--preset", "speed", cwd=tmp_path)
    assert answer.returncode == 0, answer.stderr
    payload = json.loads(answer.stdout)
    assert payload["song_name"] == "synth_002"
    assert abs(payload["offset_seconds"] - 6.0) < 0.1
    assert abs(payload["speed"] - 1.04) <= 0.005

    unseen = tmp_path / "unseen.wav"
    sf.write(unseen, synth_song(77, 6.0, SONG_RATE), SONG_RATE)
    none = _run("recognize", str(unseen), "--json", cwd=tmp_path)
    assert none.returncode == 0
    payload = json.loads(none.stdout)
    assert payload["song_name"] is None and payload["song_id"] is None

    text = _run("recognize", str(clip), "--top-k", "2", cwd=tmp_path)
    assert re.search(r"synth_002 .* at (5\.9\d|6\.0\d) s", text.stdout), text.stdout
    assert "  2. " in text.stdout  # the runner-up is listed

    stats = _run("stats", cwd=tmp_path)
    assert stats.returncode == 0
    assert "songs:         3" in stats.stdout and "MB per song" in stats.stdout
    # Recognising built the hash index beside the database, and the unseen clip's
    # peak check the song stretches it reads candidates' stretches from (built
    # from the song index).
    assert re.search(r"hash index: +[0-9.]+ MB in .*fingerprints\.duckdb\.index", stats.stdout)
    assert re.search(r"song index: +[0-9.]+ MB in .*fingerprints\.duckdb\.songs", stats.stdout)
    assert re.search(r"stretches: +[0-9.]+ MB in .*fingerprints\.duckdb\.stretches", stats.stdout)

    # $DEJAVU_LAB_DB picks another database
    other = _run("stats", cwd=tmp_path, env_db=str(tmp_path / "fingerprints.duckdb"))
    assert "songs:         3" in other.stdout


def test_errors_name_the_file_and_exit_nonzero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "db.duckdb")
    assert main(["--db", db, "recognize", str(tmp_path / "nope.wav")]) == 2
    assert "nope.wav: no such file" in capsys.readouterr().err
    assert main(["--db", db, "fingerprint", str(tmp_path / "missing_dir")]) == 2
    assert "missing_dir" in capsys.readouterr().err
    assert main(["--db", db, "fingerprint", str(tmp_path), "--preset", "nope"]) == 2
    assert "unknown preset" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["fingerprint"], ["recognize"], ["stats"]])
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: dejavu-lab" in capsys.readouterr().out


def test_a_no_match_the_channel_gate_decided_says_why() -> None:
    common = {
        "song_id": None,
        "song_name": None,
        "offset_seconds": None,
        "confidence": 3.4,
        "aligned_hashes": 6,
        "input_hashes": 120,
        "match_time_s": 0.004,
        "evidence": 1.37,
    }
    gated = no_match_text(Recognition(**common, decided_by="gate"), gate_evidence=2.0)
    assert gated.startswith("no match (best bin 6 of 120 hashes, confidence 3.4); 4.0 ms")
    assert "channel gate" in gated and "r >= 2" in gated and "r = 1.37" in gated
    plain = no_match_text(Recognition(**common, decided_by="peaks"), gate_evidence=2.0)
    assert plain == "no match (best bin 6 of 120 hashes, confidence 3.4); 4.0 ms"
