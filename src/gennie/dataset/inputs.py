"""New data for a trained model: windows made exactly as at training time.

Evaluate and predict read BED, FASTA or plain sequences and turn them into network
inputs with the model's preprocessing spec (window, placement and its seed, strand,
alphabet, branch encodings), reusing the preprocess mapping code.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gennie.config import PreprocessConfig
from gennie.dataset.mapping import TABLE_COLUMNS, GenomeHandle, encode_branches, map_class
from gennie.dataset.windows_cache import WindowCache
from gennie.encode import BranchEncoder, make_encoder
from gennie.encode.alphabet import first_invalid
from gennie.errors import UserError
from gennie.io.files import require_file, sniff_format
from gennie.model.bundle import BundleSpec


def spec_encoders(spec: BundleSpec) -> dict[str, BranchEncoder]:
    """The model's branch encoders, in input order."""
    encoders = {}
    for branch in spec.branches:
        params = dict(spec.preprocessing.get("branches", {}).get(branch, {}))
        params.pop("channels", None)
        params.pop("dtype", None)
        encoders[branch] = make_encoder(branch, **params)
    return encoders


@dataclass
class ModelInputs:
    """Windows of one input source, ready for the network.

    Attributes:
        table: One row per usable window with its provenance (see preprocess).
        arrays: Stored branch arrays, rows aligned with ``table``.
        encoders: Turn stored rows into float network inputs.
        dropped: Input records that produced no window (BED on too-short chromosomes).
    """

    table: pd.DataFrame
    arrays: dict[str, np.ndarray]
    encoders: dict[str, BranchEncoder]
    dropped: pd.DataFrame

    def inputs(self, indices: np.ndarray) -> list[np.ndarray]:
        """Float network inputs of some rows, one array per branch."""
        return [
            enc.to_input(np.asarray(self.arrays[b][indices])) for b, enc in self.encoders.items()
        ]


class InputMapper:
    """Maps files or sequences to model inputs inside a temporary work folder.

    Args:
        spec: The model's bundle spec.
        genome: Reference FASTA for BED input (default: the one used in training).
        conservation: Signal tracks for a ``cons`` branch, one per channel in the
            training order (default: the ones used in training, if they still exist).
    """

    def __init__(
        self,
        spec: BundleSpec,
        genome: Path | None = None,
        conservation: list[Path] | None = None,
    ) -> None:
        self.spec = spec
        self.conservation = [Path(t) for t in conservation or []]
        pre = spec.preprocessing
        trained_genome = (pre.get("references") or {}).get("genome") or {}
        self.genome = (
            Path(genome)
            if genome
            else (Path(trained_genome["file"]) if trained_genome.get("file") else None)
        )
        self.config = PreprocessConfig(
            window=spec.window,
            placement=pre.get("placement", "center"),
            strand=bool(pre.get("strand", True)),
            alphabet=pre.get("alphabet", "dna"),
            unknown_bases=pre.get("unknown_bases", "zero"),
            seed=int(pre.get("seed") or 0),
            branches=list(spec.branches),
            genome=self.genome,
            cache=False,
        )
        self.encoders = spec_encoders(spec)
        self._work = tempfile.TemporaryDirectory(prefix="gennie-inputs-")
        self._cache = WindowCache(Path(self._work.name))
        self._genome = GenomeHandle(self.genome)
        for encoder in self.encoders.values():
            encoder.attach_cache(self._cache.root, self._cache.checksum)
        self._tracks_checked = False

    def _resolve_tracks(self) -> None:
        """Point a ``cons`` encoder at the given tracks, or the training ones.

        Raises:
            UserError: The number of tracks differs from the model's, or no track is
                given and the training tracks are not there.
        """
        encoder = self.encoders.get("cons")
        if encoder is None or self._tracks_checked:
            return
        from gennie.io.tracks import track_format

        trained = list(encoder.tracks)  # type: ignore[attr-defined]
        listing = ", ".join(Path(t).name for t in trained) or "none recorded"
        if self.conservation:
            if len(self.conservation) != len(trained):
                raise UserError(
                    f"the model's cons branch has {len(trained)} track channel(s) "
                    f"({listing}) but {len(self.conservation)} track(s) were given",
                    field="conservation",
                    hint="give one --conservation per training track, in the training order",
                )
            tracks = self.conservation
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
        encoder.set_tracks(tracks)  # type: ignore[attr-defined]
        self._tracks_checked = True

    def close(self) -> None:
        """Remove the work folder."""
        self._work.cleanup()

    def __enter__(self) -> InputMapper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def from_file(self, path: Path, field: str = "input") -> ModelInputs:
        """Windows of a BED or FASTA file (BED needs the genome)."""
        require_file(path, field, "input file")
        fmt = sniff_format(path, field)
        if fmt == "sequences":
            sequences = [
                line.strip()
                for line in Path(path).read_text().splitlines()
                if line.strip() and not line.startswith("#")
            ]
            return self.from_sequences(sequences, field=field, file=path)
        if fmt == "bed" and self.genome is None:
            raise UserError(
                "BED input needs a reference genome",
                file=path,
                field="genome",
                hint="give --genome FASTA",
            )
        if fmt == "bed":
            require_file(self.genome, "genome", "genome FASTA")
        for branch, encoder in self.encoders.items():
            if encoder.needs_coordinates and fmt != "bed":
                raise UserError(
                    f"the model's '{branch}' branch reads signal tracks at genomic "
                    f"coordinates, which {fmt.upper()} input does not have",
                    file=path,
                    field=field,
                    hint="give BED input with --genome and --conservation",
                )
        self._resolve_tracks()
        mapped = map_class("input", Path(path), fmt, self.config, self._cache, self._genome, field)
        paths = encode_branches(mapped.entry, mapped.table, self.encoders, self.spec.window)
        arrays = {b: np.load(p, mmap_mode="r") for b, p in paths.items()}
        dropped = pd.DataFrame()
        if fmt == "bed":
            from gennie.io.bed import read_bed

            bed = read_bed(path, field=field)
            dropped = bed[~bed["line"].isin(mapped.table["source_line"])]
        table = mapped.table.assign(format=fmt)
        return ModelInputs(table, arrays, self.encoders, dropped)

    def from_sequences(
        self, sequences: list[str], field: str = "sequences", file: Path | None = None
    ) -> ModelInputs:
        """Windows of sequences typed or listed one per line (identity = the sequence)."""
        if not sequences:
            raise UserError("no sequences given", field=field, file=file)
        for number, seq in enumerate(sequences, start=1):
            bad = first_invalid(seq)
            if bad is not None:
                raise UserError(
                    f"sequence {number}: letter '{seq[bad]}' at position {bad + 1} is not a "
                    "nucleotide or IUPAC code",
                    file=file,
                    line=number if file else None,
                    field=field,
                )
        for branch, encoder in self.encoders.items():
            if encoder.needs_coordinates:
                raise UserError(
                    f"the model's '{branch}' branch reads signal tracks at genomic "
                    "coordinates, which typed sequences do not have",
                    file=file,
                    field=field,
                    hint="give BED input with --genome and --conservation",
                )
        fasta = Path(self._work.name) / f"sequences-{len(sequences)}.fa"
        fasta.write_text("".join(f">{i}\n{s}\n" for i, s in enumerate(sequences, start=1)))
        mapped = map_class(
            "sequences", fasta, "fasta", self.config, self._cache, self._genome, field
        )
        paths = encode_branches(mapped.entry, mapped.table, self.encoders, self.spec.window)
        arrays = {b: np.load(p, mmap_mode="r") for b, p in paths.items()}
        table = mapped.table.assign(
            source_file=str(file) if file else "", name=sequences, format="sequence"
        )
        return ModelInputs(table[TABLE_COLUMNS + ["format"]], arrays, self.encoders, pd.DataFrame())


def identity_columns(inputs: ModelInputs) -> pd.DataFrame:
    """Columns that say which input each row is."""
    table = inputs.table
    fmt = table["format"].iloc[0] if len(table) else "sequence"
    if fmt == "bed":
        return pd.DataFrame(
            {
                "line": table["source_line"].to_numpy(),
                "chrom": table["chrom"].to_numpy(),
                "start": table["interval_start"].to_numpy(),
                "end": table["interval_end"].to_numpy(),
                "name": table["name"].to_numpy(),
                "strand": table["strand"].to_numpy(),
                "window_start": table["start"].to_numpy(),
                "window_end": table["end"].to_numpy(),
            }
        )
    if fmt == "fasta":
        return pd.DataFrame(
            {
                "record": table["source_line"].to_numpy(),
                "header": table["name"].to_numpy(),
                "padded": table["padded"].to_numpy(),
            }
        )
    return pd.DataFrame(
        {"number": np.arange(1, len(table) + 1), "sequence": table["name"].to_numpy()}
    )
