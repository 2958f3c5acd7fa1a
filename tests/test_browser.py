"""Notebook 06 served by Voila to headless Chromium while the virtual mic plays a song.

The page is the real thing: Voila runs the notebook in a kernel, ipywidgets
render in Chromium, the click goes back to the kernel over the websocket, and
PyAudio records the song from the private PulseAudio server. Screenshots are
saved under ``test-artifacts/`` (gitignored) for a human to look at.

Needs Debian's ``chromium`` and the Python packages ``playwright`` (driving it
with ``executable_path``; never ``playwright install``) and ``voila``. Only
127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SONG_RATE, chromium_missing

from dejavu_lab import Dejavu
from dejavu_lab.live.microphone import INSTALL_HINT
from dejavu_lab.studies.synth import synth_song

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pulse import VirtualMicrophone, pulseaudio_available

pytestmark = [pytest.mark.browser, pytest.mark.mic, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "06_live_mic_trials.ipynb"
ARTIFACTS = REPO / "test-artifacts" / "browser"
PAGE_TIMEOUT_MS = 120_000
#: True once the input-level bar is filled past a quarter (-45 dBFS on a -60..0 scale).
METER_SHOWS_SOUND = """() => {
    const bar = document.querySelector(".widget-hprogress .progress-bar");
    return bar !== null && parseFloat(bar.style.width || "0") > 25;
}"""
PLAYED_SONG = "synth_001"
PLAYED_FROM_S = 6.0


def _missing() -> str:
    ok, reason = pulseaudio_available()
    if not ok:
        return reason
    if importlib.util.find_spec("pyaudio") is None:
        return INSTALL_HINT
    if importlib.util.find_spec("voila") is None:
        return "the Python package voila is not installed: pip install voila"
    return chromium_missing()


@pytest.fixture(scope="module")
def virtual_mic() -> Iterator[VirtualMicrophone]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    with VirtualMicrophone() as mic:
        yield mic


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_http(url: str, server: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"voila exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}voila/static/", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer: the server is up
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"voila did not answer within {timeout_s:g} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def voila_url(
    virtual_mic: VirtualMicrophone, song_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """Voila serving notebook 06 on 127.0.0.1, with a closed database of three songs."""
    folder = tmp_path_factory.mktemp("voila")
    db_path = folder / "fingerprints.duckdb"
    with Dejavu({"database": str(db_path)}) as djv:
        for seed in range(3):
            djv.fingerprint_file(song_dir / f"synth_{seed:03d}.wav")
    trials_db = folder / "trials.duckdb"
    port = _free_port()
    env = {
        **os.environ,  # PULSE_SERVER: the kernel records from the virtual mic
        "PYTHONPATH": str(REPO),
        "DEJAVU_LAB_DB": str(db_path),
        "DEJAVU_LAB_TRIALS_DB": str(trials_db),
        "MPLBACKEND": "Agg",
        "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
    }
    log = folder / "voila.log"
    with open(log, "wb") as log_file:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "voila",
                str(NOTEBOOK),
                "--no-browser",
                f"--port={port}",
                "--Voila.ip=127.0.0.1",
                "--Voila.port_retries=0",
                "--show_tracebacks=True",
            ],
            cwd=NOTEBOOK.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for_http(url, server, log, timeout_s=60)
        yield url, trials_db
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


def test_notebook_06_listens_in_a_real_browser(
    voila_url: tuple[str, Path], virtual_mic: VirtualMicrophone, chromium
) -> None:
    from playwright.sync_api import expect

    url, trials_db = voila_url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = chromium.new_page(viewport={"width": 1100, "height": 1500})
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.goto(url, wait_until="domcontentloaded")
    panel = page.locator(".widget-vbox", has_text="Live microphone trials").first
    listen = page.get_by_role("button", name="Listen")
    expect(listen).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    expect(page.get_by_text("3 songs in")).to_be_visible()

    # Three seconds: move the slider with the keyboard, as a user could.
    handle = page.locator(".widget-slider .noUi-handle").first
    handle.click()
    for _ in range(2):
        handle.press("ArrowLeft")
    expect(page.locator(".widget-readout").first).to_have_text("3")

    song = synth_song(int(PLAYED_SONG[-3:]), 30.0, SONG_RATE)
    virtual_mic.play(song[round(PLAYED_FROM_S * SONG_RATE) :], SONG_RATE)
    try:
        listen.click()
        # The input meter follows the music while recording (~-20 dBFS).
        expect(page.get_by_text("recording")).to_be_visible(timeout=30_000)
        page.wait_for_function(METER_SHOWS_SOUND, timeout=30_000)
        panel.screenshot(path=str(ARTIFACTS / "06_live_mic_trials_recording.png"))
        result = page.locator(".widget-html", has_text="hashes aligned")
        expect(result).to_contain_text(PLAYED_SONG, timeout=60_000)
    finally:
        virtual_mic.stop_playing()
    panel.screenshot(path=str(ARTIFACTS / "06_live_mic_trials_result.png"))

    page.get_by_role("button", name="right").click()
    expect(page.get_by_text("1/1 right")).to_be_visible(timeout=30_000)
    page.wait_for_timeout(500)  # let the redrawn plot image paint
    page.screenshot(path=str(ARTIFACTS / "06_live_mic_trials.png"), full_page=True)

    # The kernel wrote the trial where the notebook's parameters said.
    import duckdb

    with duckdb.connect(str(trials_db), read_only=True) as con:
        rows = con.execute("SELECT seconds, predicted, truth, correct FROM trials").fetchall()
    assert rows == [(3.0, PLAYED_SONG, PLAYED_SONG, True)]
