"""New data for a trained model: windows made exactly as at training time.

Evaluate and predict read BED, FASTA or plain sequences and turn them into network
inputs with the model's preprocessing spec (window, placement and its seed, strand,
alphabet, branch encodings), reusing the preprocess mapping code.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from gennie.dataset.mapping import (
    TABLE_COLUMNS,
    GenomeHandle,
    WindowSettings,
    encode_branches,
    map_class,
)
from gennie.dataset.spec import PreprocessingSpec
from gennie.dataset.windows_cache import WindowCache
from gennie.encode import BranchEncoder
from gennie.encode.alphabet import first_invalid
from gennie.errors import UserError
from gennie.io.files import require_file, sniff_format


class ModelSpec(Protocol):
    """What the input mapping needs of a model's spec (a model bundle's
    :class:`~gennie.model.bundle.BundleSpec`): its inputs and its preprocessing."""

    branches: list[str]
    preprocessing: PreprocessingSpec


def model_preprocessing(spec: PreprocessingSpec | ModelSpec) -> PreprocessingSpec:
    """The preprocessing spec of a model's inputs, branches in input order.

    Args:
        spec: A preprocessing spec, or a model's spec holding one.
    """
    if isinstance(spec, PreprocessingSpec):
        return spec
    return spec.preprocessing.for_branches(list(spec.branches))


def spec_encoders(spec: PreprocessingSpec | ModelSpec) -> dict[str, BranchEncoder]:
    """The model's branch encoders, in input order."""
    return model_preprocessing(spec).encoders()


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
        spec: The model's preprocessing spec (or the model's spec holding it).
        genome: Reference FASTA for BED input (default: the one used in training).
        conservation: Reference files of branches that read them (signal tracks, one
            per channel in the training order); default: the ones used in training,
            if they still exist.
    """

    def __init__(
        self,
        spec: PreprocessingSpec | ModelSpec,
        genome: Path | None = None,
        conservation: list[Path] | None = None,
    ) -> None:
        self.spec = model_preprocessing(spec)
        self.references = [Path(t) for t in conservation or []]
        self.genome = Path(genome) if genome else self.spec.genome_file
        self.settings = WindowSettings.of(self.spec)
        self.encoders = self.spec.encoders()
        self._work = tempfile.TemporaryDirectory(prefix="gennie-inputs-")
        self._cache = WindowCache(Path(self._work.name))
        self._genome = GenomeHandle(self.genome)
        for encoder in self.encoders.values():
            encoder.attach_cache(self._cache.root, self._cache.checksum)
        self._references_resolved = False

    def _resolve_references(self) -> None:
        """Let every encoder settle the files it reads (given, or the training ones)."""
        if not self._references_resolved:
            for encoder in self.encoders.values():
                encoder.resolve_references(self.references or None)
            self._references_resolved = True

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
                    f"the model's '{branch}' branch needs genomic coordinates, which "
                    f"{fmt.upper()} input does not have",
                    file=path,
                    field=field,
                    hint="give BED input with --genome, and the files the branch reads",
                )
        self._resolve_references()
        mapped = map_class(
            "input", Path(path), fmt, self.settings, self._cache, self._genome, field
        )
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
                    f"the model's '{branch}' branch needs genomic coordinates, which typed "
                    "sequences do not have",
                    file=file,
                    field=field,
                    hint="give BED input with --genome, and the files the branch reads",
                )
        fasta = Path(self._work.name) / f"sequences-{len(sequences)}.fa"
        fasta.write_text("".join(f">{i}\n{s}\n" for i, s in enumerate(sequences, start=1)))
        mapped = map_class(
            "sequences", fasta, "fasta", self.settings, self._cache, self._genome, field
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
