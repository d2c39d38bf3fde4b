"""New data for a trained model: windows made exactly as at training time.

Evaluate and predict read BED, FASTA or plain sequences and turn them into network
inputs with the model's preprocessing spec (window, placement and its seed, strand,
alphabet, branch encodings), reusing the preprocess mapping code.

Reference files recorded in a model (its training genome, the signal tracks of a
``cons`` branch) are paths on the machine that trained it, written by whoever made
the bundle. They are read only when the file is still the one trained with: a
regular file whose MD5 checksum is the recorded one; otherwise the user is asked for
``--genome`` / ``--conservation``. Checksums are remembered by path, size and
modification time in gennie's cache folder (:func:`gennie_cache_dir`), so a genome is
read through once, and a recorded genome is indexed there, never beside it. A file
the user gives with a checksum other than the training one is used, with a warning
that names both.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
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
from gennie.dataset.spec import FileReference, PreprocessingSpec
from gennie.dataset.windows_cache import WindowCache
from gennie.encode import BranchEncoder
from gennie.encode.alphabet import first_invalid
from gennie.errors import UserError
from gennie.io.bed import read_bed
from gennie.io.fasta import Genome, sequence_lines
from gennie.io.files import md5sum, require_file, sniff_format

log = logging.getLogger("gennie.inputs")

CACHE_DIR_VARIABLE = "GENNIE_CACHE_DIR"
"""Environment variable naming gennie's cache folder (see :func:`gennie_cache_dir`)."""


def gennie_cache_dir() -> Path:
    """gennie's own cache folder for what evaluate and predict keep between runs
    (file checksums, indexes of recorded genomes).

    Returns:
        ``$GENNIE_CACHE_DIR``, else ``$XDG_CACHE_HOME/gennie``, else
        ``~/.cache/gennie`` (not created here).
    """
    if os.environ.get(CACHE_DIR_VARIABLE):
        return Path(os.environ[CACHE_DIR_VARIABLE])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gennie"


def _option(field: str) -> str:
    """The command-line option of a configuration field (``--conservation``)."""
    return "--" + field.replace("_", "-")


class _WorkCache(WindowCache):
    """The mapper's window cache in its work folder, with checksums remembered in
    gennie's cache folder."""

    def __init__(self, root: Path, checksum: Callable[[Path], str]) -> None:
        super().__init__(root)
        self._remembered = checksum

    def checksum(self, path: Path) -> str:
        """MD5 of a file, remembered by path, size and modification time."""
        return self._remembered(path)


class _IndexedGenome(GenomeHandle):
    """A genome opened on first use, with its index in ``index_dir`` when given."""

    def __init__(self, path: Path, index_dir: Path | None) -> None:
        super().__init__(path)
        self.index_dir = index_dir

    def get(self) -> Genome:
        """The genome, opened (and indexed where it should be) on first use."""
        if self._genome is None and self.path is not None:
            self._genome = Genome(self.path, index_dir=self.index_dir)
        return super().get()


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
        genome: Reference FASTA for BED input (default: the one used in training, if
            it is still the file trained with).
        conservation: Reference files of branches that read them (signal tracks, one
            per channel in the training order); default: the ones used in training,
            if they are still the files trained with.
        cache_dir: Where checksums and indexes of recorded genomes are kept (default:
            :func:`gennie_cache_dir`; the work folder when that cannot be created).
    """

    def __init__(
        self,
        spec: PreprocessingSpec | ModelSpec,
        genome: Path | None = None,
        conservation: list[Path] | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.spec = model_preprocessing(spec)
        self.references = [Path(t) for t in conservation or []]
        self.genome_given = genome is not None
        self.genome = Path(genome) if genome else self.spec.genome_file
        self.settings = WindowSettings.of(self.spec)
        self.encoders = self.spec.encoders()
        self._work = tempfile.TemporaryDirectory(prefix="gennie-inputs-")
        self.cache_dir = Path(cache_dir) if cache_dir else gennie_cache_dir()
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError:
            self.cache_dir = Path(self._work.name)
        self._checksums = WindowCache(self.cache_dir)
        self._cache = _WorkCache(Path(self._work.name), self.checksum)
        self._genome: GenomeHandle = GenomeHandle(None)
        self._genome_checked = False
        for encoder in self.encoders.values():
            encoder.attach_cache(self._cache.root, self._cache.checksum)
        self._references_resolved = False

    def checksum(self, path: Path) -> str:
        """MD5 of a file, remembered in the cache folder by path, size and
        modification time (computed anew if the folder cannot be written)."""
        try:
            return self._checksums.checksum(Path(path))
        except OSError:
            return md5sum(Path(path))

    def _recorded_file(self, reference: FileReference, field: str, what: str) -> str:
        """Check that a file recorded at training is still the one trained with.

        Args:
            reference: The recorded file and its checksum.
            field: The configuration field that gives a replacement.
            what: What the file is, for the message.

        Returns:
            Its checksum.

        Raises:
            UserError: No checksum was recorded, the file is not there (or not a
                regular file), or its checksum differs.
        """
        path = Path(reference.file)
        hint = f"give {_option(field)} with the file to use"
        if not path.is_file():  # a device or a pipe would never end being read
            raise UserError(f"{what} {path} is not there", field=field, hint=hint)
        if not reference.md5:
            raise UserError(
                f"{what} {path} has no recorded checksum, so it cannot be checked",
                field=field,
                hint=hint,
            )
        current = self.checksum(path)
        if current != reference.md5:
            raise UserError(
                f"{what} {path} has changed since training (MD5 {current}, recorded "
                f"{reference.md5})",
                field=field,
                hint=hint,
            )
        return current

    def _warn_if_other(self, path: Path, reference: FileReference | None, what: str) -> None:
        """Warn when a file the user gave is not the one the model was trained with."""
        if reference is None or not reference.md5:
            return
        current = self.checksum(path)
        if current != reference.md5:
            log.warning(
                "%s %s (MD5 %s) is not the one the model was trained with, %s (MD5 %s)",
                what,
                path,
                current,
                reference.file,
                reference.md5,
            )

    def _open_genome(self, file: Path) -> None:
        """Settle the genome of BED input: the one given (warning if it is not the
        training genome), or the recorded one if it is still the file trained with
        (indexed in the cache folder)."""
        if self._genome_checked:
            return
        recorded = self.spec.references.genome
        if self.genome_given:
            require_file(self.genome, "genome", "genome FASTA")
            self._warn_if_other(self.genome, recorded, "the genome")
            self._genome = _IndexedGenome(self.genome, None)
        elif recorded is None or not recorded.file:
            raise UserError(
                "BED input needs a reference genome",
                file=file,
                field="genome",
                hint=f"give {_option('genome')} FASTA",
            )
        else:
            md5 = self._recorded_file(recorded, "genome", "the model's training genome")
            self.genome = Path(recorded.file)
            self._genome = _IndexedGenome(self.genome, self.cache_dir / "genomes" / md5)
        self._genome_checked = True

    def _resolve_references(self) -> None:
        """Let every encoder settle the files it reads: the given ones (warning where
        they are not the training files), or the training ones if they are still the
        files trained with."""
        if self._references_resolved:
            return
        for encoder in self.encoders.values():
            if not self.references:
                for key, file, reference in self._trained_files(encoder, lambda path: ""):
                    self._recorded_file(
                        reference or FileReference(file=file),
                        key,
                        f"the model's training {key} file",
                    )
            encoder.resolve_references(self.references or None)
            if self.references:
                for key, file, reference in self._trained_files(encoder, self.checksum):
                    self._warn_if_other(Path(file), reference, f"the {key} file")
        self._references_resolved = True

    def _trained_files(
        self, encoder: BranchEncoder, checksum: Callable[[Path], str]
    ) -> list[tuple[str, str, FileReference | None]]:
        """Each file the encoder reads now, with the record of the file in its place at
        training (None if there is none, or it names another file).

        Returns:
            ``(key, file, recorded reference)`` per file, e.g. ``("conservation",
            "track.bw", FileReference(...))``.
        """
        recorded = self.spec.references.recorded()
        pairs = []
        for key, files in encoder.references(checksum).items():
            trained = recorded.get(key, [])
            for number, entry in enumerate(files):
                reference = trained[number] if number < len(trained) else None
                if not self.references and reference and reference.file != entry["file"]:
                    reference = None  # the spec records another file than the encoder reads
                pairs.append((key, entry["file"], reference))
        return pairs

    def genome_for(self, file: Path) -> Genome:
        """The reference genome for the coordinates of ``file`` (the genome given, or the
        training one if it is still the file trained with), with the files each encoder
        reads settled as for BED input.

        Raises:
            UserError: No genome given or recorded, or a reference file is missing or
                has changed since training.
        """
        self._open_genome(Path(file))
        self._resolve_references()
        return self._genome.get()

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
            sequences = list(sequence_lines(Path(path), field))
            return self.from_sequences(sequences, field=field, file=path)
        for branch, encoder in self.encoders.items():
            if encoder.needs_coordinates and fmt != "bed":
                raise UserError(
                    f"the model's '{branch}' branch needs genomic coordinates, which "
                    f"{fmt.upper()} input does not have",
                    file=path,
                    field=field,
                    hint="give BED input with --genome, and the files the branch reads",
                )
        if fmt == "bed":
            self._open_genome(Path(path))
        self._resolve_references()
        mapped = map_class(
            "input", Path(path), fmt, self.settings, self._cache, self._genome, field
        )
        paths = encode_branches(mapped.entry, mapped.table, self.encoders, self.spec.window)
        arrays = {b: np.load(p, mmap_mode="r", allow_pickle=False) for b, p in paths.items()}
        dropped = pd.DataFrame()
        if fmt == "bed":
            # The intervals that got no window, with the reason the mapping recorded.
            bed = read_bed(path, field=field)
            reasons = dict(zip(mapped.dropped["line"], mapped.dropped["reason"], strict=True))
            dropped = bed[~bed["line"].isin(mapped.table["source_line"])]
            dropped = dropped.assign(
                reason=dropped["line"].map(reasons).fillna("dropped_short_chromosome")
            )
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
                    record=number if file else None,
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
        arrays = {b: np.load(p, mmap_mode="r", allow_pickle=False) for b, p in paths.items()}
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
