"""What to build: the Debian packages a corpus draws from and the size of each set.

:class:`CorpusSpec` says which packages and how many tracks; ``SIZES`` holds
the two corpora, ``"small"`` and ``"full"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...exceptions import ParameterError


@dataclass(frozen=True, kw_only=True)
class CorpusSpec:
    """Which packages a corpus draws from and how many tracks go to each set.

    Attributes
    ----------
    packages : tuple of str
        Debian packages, in the order they are listed.
    n_reference, n_unseen : int
        Wanted set sizes; see :func:`~.split.split_tracks` for the rule.
    unseen_packages : tuple of str
        Packages whose music only widens the unseen set: split apart from
        ``packages``, so adding one leaves the reference set and the unseen
        tracks of ``packages`` unchanged.
    unseen_per_package : int
        Tracks taken from each of ``unseen_packages`` (evenly spread over the
        package's sorted list; all of them if it has fewer).
    min_duration_s : float
        Shorter files (jingles, stingers, sound effects) are left out.
    """

    packages: tuple[str, ...]
    n_reference: int
    n_unseen: int
    unseen_packages: tuple[str, ...] = ()
    unseen_per_package: int = 0
    min_duration_s: float = 60.0

    def __post_init__(self) -> None:
        if not self.packages:
            raise ParameterError("packages=(): name at least one Debian package")
        if set(self.packages) & set(self.unseen_packages):
            raise ParameterError("a package cannot be in both packages and unseen_packages")
        for name in ("n_reference", "n_unseen", "unseen_per_package"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ParameterError(f"{name}={value!r}: must be an int >= 0")
        if not self.min_duration_s >= 0:
            raise ParameterError(f"min_duration_s={self.min_duration_s!r}: must be >= 0")


_SMALL_PACKAGES = ("asc-music", "fretsonfire-songs-muldjord", "fretsonfire-songs-sectoid")
#: Soundtracks that only add unseen music to the full corpus (no reference track).
WIDE_UNSEEN_PACKAGES = (
    "hyperrogue-music",
    "nexuiz-music",
    "planetblupi-music-ogg",
    "ufoai-music",
)
SIZES: dict[str, CorpusSpec] = {
    # 11 eligible tracks, ~70 MB of .deb: quick enough for CI.
    "small": CorpusSpec(packages=_SMALL_PACKAGES, n_reference=8, n_unseen=3),
    # 57 eligible tracks: 45 reference like the Dejavu write-up, 12 unseen; plus
    # 8 unseen tracks from each of four more soundtracks, for false matches.
    "full": CorpusSpec(
        packages=(*_SMALL_PACKAGES, "singularity-music", "wesnoth-1.16-music"),
        n_reference=45,
        n_unseen=12,
        unseen_packages=WIDE_UNSEEN_PACKAGES,
        unseen_per_package=8,
    ),
}
