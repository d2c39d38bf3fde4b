"""The ``cons`` branch: per-base values of signal tracks (conservation scores and the like).

Any per-base track works: phyloP, phastCons, or any other signal in bigWig or WIG
(see :mod:`gennie.io.tracks`; WIG is converted once to a cached bigWig). Several
tracks (``--conservation`` repeated) become several channels of the one ``cons``
branch, in the order given — so the same order is needed at evaluate/predict time.

Encoding: the raw track values, one float32 per base and track, stored as
(n, tracks, window) and fed to the network unchanged as (n, tracks, window). For a
minus-strand window (when strand is applied) the values are reversed, so that they
line up with the reverse-complemented sequence. A base without a value (outside the
track's intervals, on a chromosome the track lacks, past the track's end) gets 0;
such bases are counted (``missing_values``, ``windows_with_missing``) in the
dataset's metadata. A window of a variant's ALT allele keeps the values of the genome
positions it keeps; its inserted bases get 0 and are counted (``inserted_bases``).

Chromosome names must match between the windows (BED and genome) and the track. A
chromosome the track names differently (``chr1`` vs ``1``, ``chrM`` vs ``MT``) is an
error that says so; one the track simply lacks gets zeros, a warning and a count.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from gennie.encode.base import BranchEncoder, WindowBatch
from gennie.errors import UserError
from gennie.io.files import md5sum, require_file
from gennie.io.tracks import bigwig_path, chrom_alias, open_bigwig, track_format

if TYPE_CHECKING:
    from gennie.config import ModelInputConfig, PreprocessConfig

log = logging.getLogger("gennie.cons")

ENCODING_VERSION = 1
"""Bumped whenever the stored values change meaning (part of every cache key)."""


class ConservationEncoder(BranchEncoder):
    """Track values per base: stored and fed as (n, tracks, length) float32.

    Args:
        tracks: bigWig or WIG files, one channel each, in this order.
        strand: Reverse the values of minus-strand windows (as their sequence is
            reverse-complemented).
    """

    name: ClassVar[str] = "cons"
    channels = 1
    needs_coordinates: ClassVar[bool] = True
    stored_dtype: ClassVar[np.dtype] = np.dtype(np.float32)
    option_fields: ClassVar[tuple[str, ...]] = ("conservation",)

    def __init__(
        self, tracks: list[str] | None = None, strand: bool = True, **extra: object
    ) -> None:
        tracks = [str(t) for t in tracks or []]
        super().__init__(tracks=tracks, strand=bool(strand))
        self.channels = max(1, len(tracks))  # one per track
        recorded = extra.get("track_md5")
        self.track_md5: list[str] = [str(m) for m in recorded] if isinstance(recorded, list) else []
        self._cache_root: Path | None = None
        self._checksum: Callable[[Path], str] = md5sum
        self._handles: list[tuple[Any, dict[str, int]]] | None = None
        self._warned: set[tuple[int, str]] = set()

    @property
    def tracks(self) -> list[str]:
        """The track files, one per channel."""
        return list(self.params["tracks"])

    @classmethod
    def from_config(cls, config: PreprocessConfig) -> ConservationEncoder:
        """The ``conservation`` tracks, reversed on minus strands if ``strand`` is on."""
        return cls(tracks=[str(t) for t in config.conservation], strand=config.strand)

    @classmethod
    def for_custom_model(cls, config: ModelInputConfig) -> ConservationEncoder:
        """The tracks given for the run (one channel each), reversed on minus strands."""
        return cls(tracks=[str(t) for t in config.conservation], strand=True)

    @classmethod
    def check_config(cls, config: PreprocessConfig, formats: Mapping[str, str]) -> list[UserError]:
        """BED input (no FASTA), at least one track, every track a bigWig or WIG file."""
        problems = super().check_config(config, formats)
        if not config.conservation:
            problems.append(
                UserError(
                    "the cons branch needs at least one signal track",
                    field="conservation",
                    hint="give --conservation TRACK (bigWig or WIG; repeat for several tracks)",
                )
            )
        for number, track in enumerate(config.conservation):
            try:
                require_file(track, f"conservation.{number}", "signal track")
                track_format(Path(track), f"conservation.{number}")
            except UserError as problem:
                problems.append(problem)
        return problems

    def resolve_references(self, given: list[Path] | None) -> None:
        """Read the given tracks (one per trained channel, in the training order), or
        the training tracks if none are given.

        Raises:
            UserError: The number of tracks differs from the model's, no track is given
                and the training tracks are not there, or a track is not a bigWig/WIG.
        """
        trained = self.tracks
        listing = ", ".join(Path(t).name for t in trained) or "none recorded"
        if given:
            if len(given) != len(trained):
                raise UserError(
                    f"the model's cons branch has {len(trained)} track channel(s) "
                    f"({listing}) but {len(given)} track(s) were given",
                    field="conservation",
                    hint="give one --conservation per training track, in the training order",
                )
            tracks = [Path(t) for t in given]
        else:
            tracks = [Path(t) for t in trained]
            absent = [t for t in tracks if not t.is_file()]
            if not tracks:
                raise UserError(
                    "the model's cons branch needs signal tracks, and none were given",
                    field="conservation",
                    hint="give --conservation TRACK (bigWig or WIG), one per input channel",
                )
            if absent:
                raise UserError(
                    f"the model's cons branch needs {len(trained)} signal track(s) (trained "
                    f"with {listing}), and {absent[0]} is not there",
                    field="conservation",
                    hint="give --conservation TRACK (bigWig or WIG), one per training track "
                    "in the training order",
                )
        for number, track in enumerate(tracks):
            require_file(track, f"conservation.{number}", "signal track")
            track_format(track, f"conservation.{number}")
        self.params["tracks"] = [str(t) for t in tracks]
        self.track_md5 = []  # checksums of the files read now, not of the training ones
        self._handles = None

    def references(self, checksum: Callable[[Path], str]) -> dict[str, list[dict[str, str]]]:
        """``conservation``: each track file with its MD5 checksum, in channel order."""
        return {"conservation": [{"file": t, "md5": checksum(Path(t))} for t in self.tracks]}

    def attach_cache(self, root: Path, checksum: Callable[[Path], str] | None = None) -> None:
        """Convert WIG tracks into ``root/tracks``; use ``checksum`` for track keys."""
        self._cache_root = Path(root)
        if checksum is not None:
            self._checksum = checksum

    def cache_identity(self) -> dict[str, Any]:
        """The tracks' checksums (not their paths), strand handling, encoding version."""
        return {
            "tracks": self._track_checksums(),
            "strand": self.params["strand"],
            "encoding": ENCODING_VERSION,
        }

    def description(self) -> dict[str, Any]:
        """Channels, dtype, track files (with MD5 checksums once known) and strand."""
        info = super().description()
        if self.track_md5:
            info["track_md5"] = list(self.track_md5)
        return info

    def _track_checksums(self) -> list[str]:
        if not self.track_md5:
            self.track_md5 = [self._checksum(Path(t)) for t in self.tracks]
        return list(self.track_md5)

    def _open(self) -> list[tuple[Any, dict[str, int]]]:
        if self._handles is None:
            if not self.tracks:
                raise UserError(
                    "the cons branch needs at least one signal track",
                    field="conservation",
                    hint="give --conservation TRACK (bigWig or WIG), or leave out the cons branch",
                )
            root = self._cache_root or Path(tempfile.gettempdir()) / "gennie-cache"
            handles = []
            for track in self.tracks:
                path = bigwig_path(Path(track), root / "tracks", checksum=self._checksum)
                handle = open_bigwig(path)
                handles.append((handle, dict(handle.chroms())))
            self._handles = handles
        return self._handles

    def _check_chromosomes(self, chroms: set[str], sizes: dict[str, int], number: int) -> None:
        """Clear errors for naming mismatches; warnings for chromosomes the track lacks."""
        track = Path(self.tracks[number])
        absent = sorted(chroms - sizes.keys())
        if not absent:
            return
        for chrom in absent:
            alias = chrom_alias(chrom, sizes)
            if alias is not None:
                raise UserError(
                    f"chromosome names differ: the BED file and genome say '{chrom}', "
                    f"the track calls it '{alias}'",
                    file=track,
                    field="conservation",
                    hint="use a track with the genome's chromosome names, or rename the "
                    "chromosomes of the BED file and genome to the track's (e.g. add or remove "
                    "the 'chr' prefix)",
                )
        if len(absent) == len(chroms):
            names = list(sizes)
            raise UserError(
                f"the track has none of the windows' chromosomes ({', '.join(absent[:5])}); "
                f"it has {', '.join(names[:5])}{', …' if len(names) > 5 else ''}",
                file=track,
                field="conservation",
                hint="give a track of the same genome assembly as the BED file and genome",
            )
        for chrom in absent:
            if (number, chrom) not in self._warned:
                self._warned.add((number, chrom))
                log.warning(
                    "track %s has no values for chromosome %s: its windows get 0 there "
                    "(counted as missing values)",
                    track.name,
                    chrom,
                )

    def encode(self, batch: WindowBatch) -> np.ndarray:
        """Track values, shape=(n, tracks, length), float32, missing values as 0.

        Raises:
            UserError: No coordinates (FASTA or sequence input), no track, a track
                that cannot be read, or chromosome names that differ from the track's.
        """
        n = len(batch.sequences)
        if n == 0:
            return np.zeros((0, self.channels, 0), dtype=np.float32)
        if batch.chroms is None or batch.starts is None or batch.ends is None:
            raise UserError(
                "the cons branch reads signal tracks at genomic coordinates, which FASTA "
                "records and typed sequences do not have",
                field="branches",
                hint="give BED input (with --genome), or use a model without the cons branch",
            )
        length = len(batch.sequences[0])
        handles = self._open()
        out = np.full((n, len(handles), length), np.nan, dtype=np.float32)
        chroms = list(batch.chroms)
        starts = np.asarray(batch.starts, dtype=np.int64).tolist()
        ends = np.asarray(batch.ends, dtype=np.int64).tolist()
        for number, (handle, sizes) in enumerate(handles):
            self._check_chromosomes(set(chroms), sizes, number)
            if batch.positions is not None:
                self._read_positions(handle.values, sizes, chroms, batch.positions, out[:, number])
                continue
            values = handle.values
            for i, (chrom, start, end) in enumerate(zip(chroms, starts, ends, strict=True)):
                size = sizes.get(chrom)
                if size is None:
                    continue
                if end <= size:
                    out[i, number] = values(chrom, start, end, numpy=True)
                elif start < size:  # the track ends inside the window
                    out[i, number, : size - start] = values(chrom, start, size, numpy=True)
        if batch.positions is not None:
            # Bases the genome does not have (inserted ones) get 0, counted apart from
            # the bases the track has no value for.
            inserted = np.broadcast_to((batch.positions < 0)[:, None, :], out.shape)
            out[inserted] = 0.0
            self.counts["inserted_bases"] = self.counts.get("inserted_bases", 0) + int(
                (batch.positions < 0).sum()
            )
        missing = np.isnan(out)
        self.counts["missing_values"] = self.counts.get("missing_values", 0) + int(missing.sum())
        self.counts["windows_with_missing"] = self.counts.get("windows_with_missing", 0) + int(
            missing.any(axis=(1, 2)).sum()
        )
        self.counts["values"] = self.counts.get("values", 0) + int(out.size)
        out[missing] = 0.0
        if self.params["strand"] and batch.strands is not None:
            minus = np.asarray(batch.strands) == "-"
            out[minus] = out[minus][:, :, ::-1]
        return out

    @staticmethod
    def _read_positions(
        values: Callable[..., np.ndarray],
        sizes: dict[str, int],
        chroms: list[str],
        positions: np.ndarray,
        out: np.ndarray,
    ) -> None:
        """Track values at given genome positions (see
        :attr:`~gennie.encode.base.WindowBatch.positions`) into ``out``, shape=(n,
        length); positions below 0 or past the track's end are left as they are."""
        for i, chrom in enumerate(chroms):
            size = sizes.get(chrom)
            row = positions[i]
            kept = (row >= 0) & (row < (size or 0))
            if size is None or not kept.any():
                continue
            low, high = int(row[kept].min()), int(row[kept].max()) + 1
            span = values(chrom, low, high, numpy=True)
            out[i, kept] = span[row[kept] - low]

    def stored_shape(self, window: int) -> tuple[int, ...]:
        """(tracks, window)."""
        return (self.channels, window)

    def to_input(self, stored: np.ndarray) -> np.ndarray:
        """The stored values as they are, shape=(n, tracks, length), float32."""
        return np.ascontiguousarray(stored, dtype=np.float32)
