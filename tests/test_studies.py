"""The studies on a synthetic corpus: documented columns, perfect clean 5 s, cached sweeps."""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb
import numpy as np
import pytest
from conftest import duckdb_held_by_another_process

from dejavu_lab.core.cache import MemoryCache
from dejavu_lab.exceptions import StoreLockedError
from dejavu_lab.studies import (
    accuracy_vs_seconds,
    build_database,
    fit_line,
    matching_time,
    storage,
    sweep,
    synthetic_corpus,
)
from dejavu_lab.studies.accuracy import ACCURACY_COLUMNS
from dejavu_lab.studies.corpus_audio import cached_database, write_synthetic_corpus
from dejavu_lab.studies.provenance import git_commit
from dejavu_lab.studies.storage_study import STORAGE_COLUMNS
from dejavu_lab.studies.timing import TIMING_COLUMNS


@pytest.fixture(scope="module")
def corpus():  # type: ignore[no-untyped-def]
    return synthetic_corpus(6, 2, duration_s=35.0)


def test_accuracy_table_has_the_documented_rows_and_perfect_clean_5s(corpus) -> None:  # type: ignore[no-untyped-def]
    djv, build = build_database(djv_pipeline(), corpus)
    assert build.num_hashes > 0 and build.audio_seconds == pytest.approx(6 * 35.0)
    table = accuracy_vs_seconds(
        djv,
        corpus,
        seconds=(1, 2, 5),
        conditions=("clean",),
        n_per_song=2,
        n_per_unseen=2,
        progress=False,
    )
    assert tuple(table.columns) == ACCURACY_COLUMNS
    assert table.seconds.tolist() == [1.0, 2.0, 5.0]
    five = table[table.seconds == 5.0].iloc[0]
    assert five.total == 12 and five.correct == 12 and five.accuracy_pct == 100.0
    assert five.offset_correct_pct == 100.0
    assert (table.unseen_total == 4).all()
    assert (table.false_match_pct == 0.0).all()


def djv_pipeline():  # type: ignore[no-untyped-def]
    from dejavu_lab.core.presets import get_preset

    return get_preset("default")


def test_matching_time_rows_and_linear_fit(corpus) -> None:  # type: ignore[no-untyped-def]
    djv, _ = build_database(djv_pipeline(), corpus)
    name, samples = next(iter(corpus.reference.items()))
    table = matching_time(
        djv,
        samples,
        corpus.sample_rate,
        song_name=name,
        record_times_s=(1.0, 3.0, 6.0),
        repeats=2,
        progress=False,
    )
    assert tuple(table.columns) == TIMING_COLUMNS
    assert len(table) == 6 and table.correct.all()
    assert (table.match_time_s >= table.decode_s).all()
    assert (table.match_time_s >= table.fingerprint_lookup_s).all()
    assert table.groupby("record_time_s").size().tolist() == [2, 2, 2]


def test_fit_line_recovers_a_known_line() -> None:
    x = np.arange(1.0, 11.0)
    fit = fit_line(x, 1.364757 * x - 0.034373)
    assert fit.slope == pytest.approx(1.364757) and fit.intercept == pytest.approx(-0.034373)
    assert fit.equation() == "1.364757 * record_time - 0.034373"
    assert fit.r_squared == pytest.approx(1.0)


def test_storage_table(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    corpus_dir = write_synthetic_corpus(tmp_path / "corpus", 6, 2, duration_s=35.0)
    db = tmp_path / "default.duckdb"
    djv, _ = build_database(djv_pipeline(), corpus, path=db)
    djv.close()
    table = storage(corpus_dir, {"default": db})
    assert tuple(table.columns) == STORAGE_COLUMNS
    assert table.kind.tolist() == ["mp3", "wav", "fingerprints (default)"]
    wav = table.set_index("kind").loc["wav"]
    assert wav.megabytes == pytest.approx(6 * 35.0 * 44100 * 4 / 1e6)
    fingerprints = table.set_index("kind").loc["fingerprints (default)"]
    assert fingerprints.tracks == 6 and fingerprints.fingerprints > 0
    assert fingerprints.megabytes == pytest.approx(db.stat().st_size / 1e6)


def test_sweep_rows_cache_and_results_table(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    cache = MemoryCache()
    grid = {"hasher__fan_value": [3, 6], "matcher__min_confidence": [2.0]}
    results = tmp_path / "results.duckdb"
    first = sweep(
        grid,
        corpus,
        seconds=(2,),
        conditions=("clean",),
        cache=cache,
        results_db=results,
        progress=False,
    )
    assert len(first) == 2
    assert first.hasher__fan_value.tolist() == [3, 6]
    for column in (
        "accuracy_pct_clean_2s",
        "false_match_pct",
        "hashes_per_second",
        "bytes_per_track",
        "fingerprint_x_realtime",
        "median_match_ms",
        "params",
        "manifest_hash",
        "git_commit",
        "package_version",
        "created_at",
    ):
        assert column in first.columns
    assert first.hashes_per_second.iloc[1] > first.hashes_per_second.iloc[0]
    # Each accuracy comes with its counts and a Wilson interval around it.
    assert (first.total_clean_2s == 6).all()
    assert (first.correct_clean_2s == first.accuracy_pct_clean_2s * 6 / 100).all()
    assert (first.accuracy_low_pct_clean_2s <= first.accuracy_pct_clean_2s).all()
    assert (first.accuracy_high_pct_clean_2s >= first.accuracy_pct_clean_2s).all()
    assert (first.accuracy_high_pct_clean_2s - first.accuracy_low_pct_clean_2s > 5).all()
    assert (first.false_matches <= first.unseen_total).all() and (first.unseen_total == 8).all()
    songs_and_queries = cache.misses["peaks"]
    assert songs_and_queries > 0
    # A second run over hasher/matcher parameters recomputes no peaks.
    second = sweep(
        {"hasher__fan_value": [4]},
        corpus,
        seconds=(2,),
        conditions=("clean",),
        cache=cache,
        results_db=results,
        progress=False,
    )
    assert cache.misses["peaks"] == songs_and_queries
    assert cache.misses["spectrogram"] <= songs_and_queries
    assert cache.hits["peaks"] >= songs_and_queries
    assert len(second) == 1
    stored = duckdb.connect(str(results)).execute("SELECT count(*) FROM results").fetchall()
    assert stored[0][0] == 3
    with pytest.raises(Exception, match="hasher__fan"):
        sweep({"hasher__fan": [1]}, corpus, progress=False)


def test_sweep_takes_any_preset_by_name_and_refuses_its_unknown_parameters(corpus) -> None:  # type: ignore[no-untyped-def]
    from dejavu_lab.exceptions import ParameterError

    rows = sweep(
        {"peaks__peaks_per_second": [None, 20.0]},
        corpus,
        base="dejavu",
        seconds=(2,),
        conditions=("clean",),
        n_per_unseen=0,
        progress=False,
    )
    # The dejavu preset's own parameters are kept, the swept one changes the peaks.
    assert rows.params.str.contains('"hasher__min_dt": 0').all()
    assert rows.hashes_per_second.iloc[0] > rows.hashes_per_second.iloc[1]
    with pytest.raises(ParameterError, match="no-such-preset"):
        sweep({"hasher__fan_value": [1]}, corpus, base="no-such-preset", progress=False)
    with pytest.raises(ParameterError, match="speed__fan"):
        sweep({"speed__fan": [1]}, corpus, base="speed", progress=False)


def test_peak_rates_fall_with_the_threshold_and_never_pass_the_cap(corpus) -> None:  # type: ignore[no-untyped-def]
    from dejavu_lab.studies.sweeps import peak_rates

    table = peak_rates(
        corpus, amp_min_db=[-20.0, 40.0, 60.0], peaks_per_second=[None, 10.0], max_tracks=2
    )
    assert len(table) == 6
    uncapped = table[table.peaks__peaks_per_second.isna()].peaks_per_second.to_numpy()
    capped = table[table.peaks__peaks_per_second == 10.0]
    assert (np.diff(uncapped) <= 0).all() and uncapped[0] > uncapped[-1]
    assert (capped.peaks_per_second.to_numpy() <= np.minimum(uncapped, 10.0) + 1e-9).all()
    # Where the threshold leaves fewer than 10 a second, the cap no longer binds anywhere.
    assert capped.capped_pct.iloc[0] == 100.0 and capped.capped_pct.iloc[-1] == 0.0
    assert table[table.peaks__peaks_per_second.isna()].capped_pct.isna().all()


def test_cached_database_held_by_another_process_is_an_error_not_a_rebuild(
    tmp_path: Path, corpus, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    djv, path = cached_database("default", corpus, tmp_path, name="held")
    songs = djv.db.stats().num_songs
    djv.close()
    monkeypatch.setenv("DEJAVU_LAB_LOCK_TIMEOUT", "0.5")  # wait half a second, then give up
    with (
        duckdb_held_by_another_process(path),
        pytest.raises(StoreLockedError, match=f"{path.name} is in use by another process"),
    ):
        cached_database("default", corpus, tmp_path, name="held")
    again, _ = cached_database("default", corpus, tmp_path, name="held")
    assert again.db.stats().num_songs == songs  # nothing rebuilt or lost
    again.close()


def test_provenance_is_dirty_for_code_changes_not_for_the_studies_outputs(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    (tmp_path / "experiments" / "results").mkdir(parents=True)
    (tmp_path / "experiments" / "results" / "table.csv").write_text("a\n1\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("commit", "-q", "-m", "one")
    assert not git_commit(tmp_path).endswith("+dirty")
    (tmp_path / "experiments" / "results" / "table.csv").write_text("a\n2\n")
    assert not git_commit(tmp_path).endswith("+dirty")  # a study rewrote its output
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path).endswith("+dirty")
