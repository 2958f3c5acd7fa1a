"""Errors of a build: the command line turns each one's ``exit_code`` into its exit status."""

from __future__ import annotations

from ...exceptions import DejavuLabError

EXIT_DEBIAN_TOOLS_UNAVAILABLE = 3
EXIT_ENCODER_UNAVAILABLE = 4
EXIT_DOWNLOAD_FAILED = 5


class CorpusBuildError(DejavuLabError):
    """The corpus could not be built."""

    exit_code = 1


class DebianToolsUnavailable(CorpusBuildError):
    """apt-get or dpkg is missing: not a Debian-like system."""

    exit_code = EXIT_DEBIAN_TOOLS_UNAVAILABLE


class EncoderUnavailable(CorpusBuildError):
    """Neither ffmpeg (with libmp3lame) nor lame is installed."""

    exit_code = EXIT_ENCODER_UNAVAILABLE


class DownloadError(CorpusBuildError):
    """``apt-get download`` failed."""

    exit_code = EXIT_DOWNLOAD_FAILED
