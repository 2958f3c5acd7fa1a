"""A virtual microphone for tests: a private PulseAudio server with no sound card.

The server has a null sink (``nullsink``) whose monitor is remapped to a mono
source (``virtmic``) set as the default input. Whatever is played into the null
sink is what a PyAudio input stream on the default device records. This works as
root with no terminal and no sound hardware, so CI can run it.

Usage::

    ok, reason = pulseaudio_available()
    if not ok:
        pytest.skip(reason)
    with VirtualMicrophone() as mic:  # exports PULSE_SERVER while open
        player = mic.play(samples, 44100)
        ...  # create PyAudio objects only now, and record
        player.wait(timeout=10)

PortAudio reads ``PULSE_SERVER`` when a ``pyaudio.PyAudio`` is created, so create
each PyAudio instance after the virtual microphone has started.

The server, its sockets and files live in private 0700 temporary folders that
:meth:`VirtualMicrophone.stop` removes. The server is also told (``setpriv
--pdeathsig``) to die with the thread that started it, so a killed test run leaves
no server behind: start it from a thread that outlives its use (the main thread).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import soundfile

SINK_NAME = "nullsink"
SOURCE_NAME = "virtmic"
_BINARIES = ("pulseaudio", "pactl", "paplay", "parec")
_COMMAND_TIMEOUT_S = 10.0
_ALSA_PULSE_PLUGIN_GLOBS = (
    "/usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so",  # Debian multiarch
    "/usr/lib/alsa-lib/libasound_module_pcm_pulse.so",
    "/usr/lib64/alsa-lib/libasound_module_pcm_pulse.so",
)
_T = TypeVar("_T")


def pulseaudio_available() -> tuple[bool, str]:
    """Whether a private PulseAudio server can be started here.

    Returns
    -------
    ok : bool
    reason : str
        Why not (with the Debian packages to install), or ``""``.
    """
    if not sys.platform.startswith("linux"):
        return (
            False,
            f"the PulseAudio virtual microphone needs Linux, not {sys.platform}",
        )
    missing = [name for name in _BINARIES if shutil.which(name) is None]
    if missing:
        return False, (
            f"{', '.join(missing)} not found on PATH: apt-get install pulseaudio "
            "pulseaudio-utils libasound2-plugins"
        )
    if not any(glob.glob(pattern) for pattern in _ALSA_PULSE_PLUGIN_GLOBS):
        return False, (
            "the ALSA PulseAudio plugin is missing, so PortAudio cannot reach the "
            "server: apt-get install libasound2-plugins"
        )
    return True, ""


def _dying_with_parent(command: list[str]) -> list[str]:
    """Prefix ``command`` so Linux sends it SIGTERM when the starting thread dies.

    ``setpriv --pdeathsig`` (util-linux) does it without ``preexec_fn``, which is
    unsafe once PortAudio's threads exist. Without setpriv the command runs as is.
    """
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return command
    return [setpriv, "--pdeathsig", "TERM", "--", *command]


def call_with_timeout(function: Callable[[], _T], timeout_s: float, what: str) -> _T:
    """Run ``function()`` in a daemon thread and give up after ``timeout_s``.

    Parameters
    ----------
    function : callable
        Called with no arguments.
    timeout_s : float
        How long to wait, in seconds.
    what : str
        What is being done, for the error message.

    Returns
    -------
    Whatever ``function`` returned; its exception is raised again here.

    Raises
    ------
    TimeoutError
        ``function`` was still running after ``timeout_s`` (it is left running in
        the background; a blocked PortAudio read cannot be interrupted).
    """
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = function()
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, name=f"timeout:{what}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise TimeoutError(f"{what} blocked for more than {timeout_s:g} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


class VirtualMicrophone:
    """A private PulseAudio server whose default input records what it plays.

    Parameters
    ----------
    sample_rate : int
        Rate of the null sink, and so the native rate of the microphone, in Hz.
    startup_timeout_s : float
        How long to wait for the server to answer, in seconds.

    Attributes
    ----------
    server : str
        The ``PULSE_SERVER`` address, ``unix:<dir>/native``.
    log_path : pathlib.Path
        The server's log (kept until :meth:`stop`; read it when something fails).
    """

    def __init__(self, *, sample_rate: int = 44100, startup_timeout_s: float = 10.0) -> None:
        self.sample_rate = sample_rate
        self.startup_timeout_s = startup_timeout_s
        self.server = ""
        self.log_path = Path()
        self._root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._players: list[subprocess.Popen[bytes]] = []
        self._keeper: subprocess.Popen[bytes] | None = None
        self._keeper_drain: threading.Thread | None = None
        self._saved_env: dict[str, str | None] = {}

    # -- life cycle ---------------------------------------------------------

    def start(self) -> VirtualMicrophone:
        """Start the server, wait until it answers, and export ``PULSE_SERVER``.

        Raises
        ------
        RuntimeError
            PulseAudio is missing, exited, or did not answer in time (the message
            includes the end of its log).
        """
        ok, reason = pulseaudio_available()
        if not ok:
            raise RuntimeError(reason)
        if self._process is not None:
            return self
        # A unix socket path must stay under ~108 bytes: keep the folder short.
        base = tempfile.gettempdir()
        if len(base) > 40:
            base = "/tmp"
        root = Path(tempfile.mkdtemp(prefix="dejavu-pulse-", dir=base))
        self._root = root
        for name in ("runtime", "home"):
            (root / name).mkdir(mode=0o700)
        socket = root / "native"
        self.server = f"unix:{socket}"
        config = root / "server.pa"
        config.write_text(
            f"load-module module-native-protocol-unix auth-anonymous=1 socket={socket}\n"
            f"load-module module-null-sink sink_name={SINK_NAME} rate={self.sample_rate}\n"
            f"load-module module-remap-source master={SINK_NAME}.monitor "
            f"source_name={SOURCE_NAME} channels=1 channel_map=mono\n"
            f"set-default-sink {SINK_NAME}\n"
            f"set-default-source {SOURCE_NAME}\n"
        )
        self.log_path = root / "server.log"
        env = self._private_env()
        env.pop("PULSE_SERVER", None)
        try:
            with open(self.log_path, "wb") as log_file:
                self._process = subprocess.Popen(
                    _dying_with_parent(
                        [
                            "pulseaudio",
                            "-n",
                            "-F",
                            str(config),
                            "--daemonize=no",
                            "--exit-idle-time=-1",
                            "--disallow-exit",
                            "--use-pid-file=no",
                            "--log-target=stderr",
                        ]
                    ),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=log_file,
                    env=env,
                )
            self._wait_until_ready()
            self._start_keeper()
        except BaseException:
            self.stop()
            raise
        self._saved_env["PULSE_SERVER"] = os.environ.get("PULSE_SERVER")
        os.environ["PULSE_SERVER"] = self.server
        return self

    def _private_env(self) -> dict[str, str]:
        assert self._root is not None
        env = dict(os.environ)
        env["XDG_RUNTIME_DIR"] = str(self._root / "runtime")
        env["HOME"] = str(self._root / "home")
        if self.server:
            env["PULSE_SERVER"] = self.server
        return env

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        last_error = ""
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"pulseaudio exited with code {self._process.returncode}:\n{self.log_tail()}"
                )
            try:
                self.pactl("info", timeout_s=2.0)
                return
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                last_error = str(exc)
            time.sleep(0.05)
        raise RuntimeError(
            f"pulseaudio did not answer within {self.startup_timeout_s:g} s "
            f"({last_error}):\n{self.log_tail()}"
        )

    def _start_keeper(self) -> None:
        """Keep a low-latency recorder on the microphone for the server's lifetime.

        With no client asking for low latency, the null sink renders in blocks of
        about 2 s, so every new recording waits up to 2 s for its first sample
        (measured: record(2.0) took 4 s). A ``parec`` asking for 10 ms keeps the
        blocks short; waiting for its first bytes waits out the initial block.
        """
        keeper = subprocess.Popen(
            _dying_with_parent(["parec", f"--device={SOURCE_NAME}", "--raw", "--latency-msec=10"]),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self._private_env(),
        )
        self._keeper = keeper
        first_data = threading.Event()

        def drain() -> None:
            assert keeper.stdout is not None
            with contextlib.suppress(OSError, ValueError):
                while os.read(keeper.stdout.fileno(), 65536):
                    first_data.set()

        self._keeper_drain = threading.Thread(target=drain, name="virtmic-keeper", daemon=True)
        self._keeper_drain.start()
        if not first_data.wait(self.startup_timeout_s):
            raise RuntimeError(
                f"the virtual microphone gave no audio within "
                f"{self.startup_timeout_s:g} s:\n{self.log_tail()}"
            )

    def stop_playing(self) -> None:
        """Stop every sound started by :meth:`play` (the room falls silent)."""
        for player in self._players:
            _terminate(player)
        self._players.clear()
        # The sink may still hold a few ms of audio; wait until no stream is left.
        deadline = time.monotonic() + _COMMAND_TIMEOUT_S
        while self._process is not None and time.monotonic() < deadline:
            if not self.pactl("list", "short", "sink-inputs").strip():
                break
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop players and the server, restore the environment, remove the files."""
        for player in self._players:
            _terminate(player)
        self._players.clear()
        if self._keeper is not None:
            self._keeper.terminate()
            if self._keeper_drain is not None:
                self._keeper_drain.join(timeout=5)  # ends at the keeper's EOF
            _terminate(self._keeper)
            self._keeper = None
        if self._process is not None:
            _terminate(self._process)
            self._process = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def __enter__(self) -> VirtualMicrophone:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- using it -----------------------------------------------------------

    def log_tail(self, n_lines: int = 20) -> str:
        """The last lines of the server log."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "\n".join(lines[-n_lines:])

    def pactl(self, *args: str, timeout_s: float = _COMMAND_TIMEOUT_S) -> str:
        """Run ``pactl`` against this server and return its output.

        Raises
        ------
        RuntimeError
            pactl failed.
        subprocess.TimeoutExpired
            pactl did not finish within ``timeout_s`` seconds.
        """
        result = subprocess.run(
            ["pactl", *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=self._private_env(),
            timeout=timeout_s,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"pactl {' '.join(args)} failed: {result.stderr.decode(errors='replace').strip()}"
            )
        return result.stdout.decode(errors="replace")

    def play(
        self,
        samples: npt.ArrayLike,
        sample_rate: int,
        *,
        wait_until_playing: bool = True,
    ) -> subprocess.Popen[bytes]:
        """Play samples into the null sink in the background.

        Parameters
        ----------
        samples : array_like, shape (n_samples,)
            Mono samples in [-1, 1]; written as 16-bit PCM.
        sample_rate : int
            Their rate, in Hz (PulseAudio resamples to the sink rate).
        wait_until_playing : bool
            Return only once the server lists the stream (bounded by the command
            timeout), so recording that starts next overlaps the sound.

        Returns
        -------
        subprocess.Popen
            The ``paplay`` process; ``wait(timeout=...)`` on it to hear it all,
            or call :meth:`stop_playing`. :meth:`stop` kills any still running.
        """
        if self._root is None:
            raise RuntimeError("the virtual microphone is not started")
        data = np.clip(np.asarray(samples, dtype=np.float64), -1.0, 1.0)
        handle, name = tempfile.mkstemp(suffix=".wav", dir=self._root)
        os.close(handle)
        soundfile.write(name, data, sample_rate, subtype="PCM_16")
        player = subprocess.Popen(
            ["paplay", f"--device={SINK_NAME}", name],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=self._private_env(),
        )
        self._players.append(player)
        if wait_until_playing:
            deadline = time.monotonic() + _COMMAND_TIMEOUT_S
            while not self.pactl("list", "short", "sink-inputs").strip():
                if player.poll() is not None:
                    stderr = player.stderr.read().decode(errors="replace") if player.stderr else ""
                    raise RuntimeError(f"paplay exited with {player.returncode}: {stderr}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"paplay did not start within {_COMMAND_TIMEOUT_S:g} s")
                time.sleep(0.01)
        return player


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
