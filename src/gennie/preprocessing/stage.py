"""The preprocess stage: class files → windows → encoded branches → dataset folder.

The classes come from one file per class (``classes``), or from labelled files
holding all of them (``input``), whose records are first written as one file per
class (see :mod:`gennie.dataset.labelled`). Steps, for each class file:

1. read the intervals (BED) or records (FASTA) and validate them;
2. place fixed-length windows (BED: real flanking sequence from the genome, shifted
   inside chromosome ends, dropped on chromosomes shorter than the window; FASTA:
   cut, or padded with N);
3. encode the windows for every branch — steps 1–3 are cached on disk;
4. optionally add a negative class (dinucleotide shuffles or GC-matched background);
5. reduce class sizes, split into train/validation/test/blackbox;
6. write the dataset folder (see :mod:`gennie.dataset.store`).

Steps 1–4 live in :mod:`gennie.dataset.mapping`, shared with the stages that apply a
model to new data.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from gennie.config import SPLITS, PreprocessConfig
from gennie.dataset.labelled import (
    class_names,
    class_order,
    read_labelled,
    relocated,
    restore_provenance,
    write_records,
)
from gennie.dataset.mapping import (
    CHUNK,
    DEFAULT_WINDOW,
    TABLE_COLUMNS,
    ClassWindows,
    GenomeHandle,
    WindowSettings,
    choose_window,
    encode_branches,
    make_negatives,
    map_class,
)
from gennie.dataset.npyfiles import allocate_npy
from gennie.dataset.spec import (
    FORMAT_VERSION,
    BranchSpec,
    CacheStats,
    ClassCounts,
    DatasetMetadata,
    References,
)
from gennie.dataset.split import UNASSIGNED, chromosome_split, random_split, reduce_indices
from gennie.dataset.store import METADATA_FILE, SAMPLES_FILE
from gennie.dataset.windows_cache import WindowCache
from gennie.encode import BranchEncoder, branch_names, encoder_type
from gennie.encode.registry import encoder_class
from gennie.errors import UserError
from gennie.io.fasta import read_fasta
from gennie.io.files import require_file, sniff_format
from gennie.progress import track
from gennie.runs import StageResult, run_folder
from gennie.version import VERSION

log = logging.getLogger("gennie.preprocess")


# --------------------------------------------------------------------------- validation


def check(config: PreprocessConfig) -> list[UserError]:
    """Every problem of a configuration that can be found before any work starts.

    Cheap enough to run on every edit of a form: it opens each class file and track
    to tell its format, and checks that the genome exists, but reads no genome.

    Args:
        config: The preprocess configuration.

    Returns:
        One :class:`~gennie.errors.UserError` per problem, each naming its field
        (empty if the configuration can run).
    """
    return _inspect(config)[1]


def with_window(config: PreprocessConfig, formats: dict[str, str]) -> PreprocessConfig:
    """The configuration with its window: the one given, or one chosen from the FASTA
    sequences' lengths (:func:`~gennie.dataset.mapping.choose_window`), or
    :data:`~gennie.dataset.mapping.DEFAULT_WINDOW` for intervals; the choice is logged
    and, as a number, saved in ``parameters.yaml``."""
    if config.window is not None:
        return config
    lengths = np.array(_fasta_lengths(config, formats), dtype=np.int64)
    if lengths.size == 0:
        window = DEFAULT_WINDOW
        log.info("window not given: %d bases (the default for intervals)", window)
    else:
        window = choose_window(lengths)
        log.info(
            "window not given: %d bases, from the lengths of %d sequences "
            "(median %d, longest %d); give --window to choose another",
            window,
            lengths.size,
            int(np.median(lengths)),
            int(lengths.max()),
        )
    return config.model_copy(update={"window": window})


def _fasta_lengths(config: PreprocessConfig, formats: dict[str, str]) -> list[int]:
    """The length of every FASTA sequence of the inputs (none for intervals)."""
    if config.input:
        records = read_labelled(config.input, config)
        return [len(row[1]) for row in records.rows] if records.format == "fasta" else []
    return [
        len(record.sequence)
        for name, path in config.classes.items()
        if formats.get(name) == "fasta"
        for record in read_fasta(Path(path), field="classes")
    ]


def check_config(config: PreprocessConfig) -> dict[str, str]:
    """Check everything that can be checked before any work starts (see :func:`check`);
    warn about options that matter only with a branch that is not chosen.

    Returns:
        The format (``bed`` or ``fasta``) of each class file.

    Raises:
        UserError: The first problem found.
    """
    formats, problems = _inspect(config)
    if problems:
        raise problems[0]
    _warn_unused_options(config)
    return formats


def _inspect(config: PreprocessConfig) -> tuple[dict[str, str], list[UserError]]:
    """The format of each readable class file, and every problem found."""
    if config.input:
        formats, problems = _labelled_formats(config)
    else:
        formats, problems = _class_file_formats(config)
    problems += _genome_problems(config, formats)
    fasta = [n for n, f in formats.items() if f == "fasta"]
    if config.split == "chromosome" and fasta:
        problems.append(
            UserError(
                "a chromosome split needs BED input; FASTA records have no chromosome",
                field="split",
                hint=f"use --split random (FASTA classes: {', '.join(fasta)})",
            )
        )
    return formats, problems + _branch_problems(config, formats)


def _class_file_formats(config: PreprocessConfig) -> tuple[dict[str, str], list[UserError]]:
    """The format of each class file (``classes``), and the problems found."""
    problems: list[UserError] = []
    needed = 1 if config.negatives else 2
    if len(config.classes) < needed:
        problems.append(
            UserError(
                f"at least {needed} class file(s) are needed, got {len(config.classes)}",
                field="classes",
                hint="give one --class NAME=FILE per class",
            )
        )
    formats: dict[str, str] = {}
    for name, path in config.classes.items():
        try:
            formats[name] = _class_format(name, path)
        except UserError as problem:
            problems.append(problem)
    return formats, problems


def _labelled_formats(config: PreprocessConfig) -> tuple[dict[str, str], list[UserError]]:
    """The classes of the labelled files (``input``), each with the format its records
    are written in (``fasta`` or ``bed``), and the problems found."""
    try:
        records = read_labelled(config.input, config)
        names = class_order(class_names(records.labels, config.label_names))
    except UserError as problem:
        return {}, [problem]
    problems: list[UserError] = []
    needed = 1 if config.negatives else 2
    if len(names) < needed:
        problems.append(
            UserError(
                f"at least {needed} classes are needed, the labelled files have {len(names)} "
                f"({', '.join(names)})",
                field="input",
                hint="check the labels, or --label-pattern / --label-column",
            )
        )
    for name in config.reduce:
        if name not in names and name != config.negatives_name:
            problems.append(
                UserError(
                    f"reduction names class '{name}', which is not among the classes "
                    f"({', '.join(names)})",
                    field="reduce",
                )
            )
    if config.negatives_from and config.negatives_from not in names:
        problems.append(
            UserError(
                f"negatives_from names class '{config.negatives_from}', not a class "
                f"({', '.join(names)})",
                field="negatives_from",
            )
        )
    if config.negatives and config.negatives_name in names:
        problems.append(
            UserError(
                f"negatives_name '{config.negatives_name}' is already a class name",
                field="negatives_name",
            )
        )
    return {name: records.format for name in names}, problems


def labelled_class_files(
    config: PreprocessConfig, folder: Path
) -> tuple[dict[str, Path], dict[str, list[tuple]]]:
    """Write the records of the labelled files (``input``) as one FASTA or BED file per
    class in ``folder``.

    Returns:
        The class files by class name, in class order, and the source (labelled file,
        line or record) of each record of each class file.
    """
    records = read_labelled(config.input, config)
    names = class_names(records.labels, config.label_names)
    files: dict[str, Path] = {}
    sources: dict[str, list[tuple]] = {}
    suffix = ".fa" if records.format == "fasta" else ".bed"
    for number, name in enumerate(class_order(names)):
        rows = [i for i, label in enumerate(records.labels) if names[label] == name]
        files[name] = folder / f"class-{number}{suffix}"
        sources[name] = write_records(records, rows, files[name])
        log.info("class %s: %d records of the labelled files", name, len(rows))
    return files, sources


def _map_class_file(
    name: str,
    path: Path,
    fmt: str,
    settings: WindowSettings,
    cache: WindowCache,
    genome: GenomeHandle,
    sources: dict[str, list[tuple]],
) -> ClassWindows:
    """The windows of one class file; for a class written from labelled files, with
    the labelled files' names and lines as provenance and in error messages."""
    if name not in sources:
        return map_class(name, path, fmt, settings, cache, genome)
    try:
        mapped = map_class(name, path, fmt, settings, cache, genome, field="input")
    except UserError as error:
        raise relocated(error, path, sources[name]) from None
    mapped.table = restore_provenance(mapped.table, sources[name])
    files = sorted({source[0] for source in sources[name]})
    md5 = cache.checksum(Path(files[0])) if len(files) == 1 else None
    mapped.references = {"file": ", ".join(files), "md5": md5, "format": "labelled"}
    return mapped


def _genome_problems(config: PreprocessConfig, formats: dict[str, str]) -> list[UserError]:
    """What is missing for BED classes and background negatives: the genome, and for
    background negatives genomic (BED) classes to match and keep clear of."""
    problems: list[UserError] = []
    background = config.negatives == "background"
    fasta = [n for n, f in formats.items() if f == "fasta"]
    if background and fasta:
        problems.append(
            UserError(
                "background negatives need genomic (BED) classes and a genome; "
                f"these classes are FASTA: {', '.join(fasta)}",
                field="negatives",
                hint="give BED classes with --genome, or use --negatives shuffle",
            )
        )
    if "bed" in formats.values() or background:
        if config.genome is None:
            message = (
                "BED class files need a reference genome or transcriptome"
                if "bed" in formats.values()
                else "background negatives need a reference genome and BED classes"
            )
            problems.append(
                UserError(
                    message, field="genome", hint="give --genome FASTA (plain or bgzip-compressed)"
                )
            )
        else:
            try:
                require_file(config.genome, "genome", "genome FASTA")
            except UserError as problem:
                problems.append(problem)
    return problems


def _class_format(name: str, path: Path) -> str:
    """``bed`` or ``fasta``: the format of a class file.

    Raises:
        UserError: The file is missing, unreadable, or a plain list of sequences.
    """
    field = f"classes.{name}"
    require_file(path, field, "class file")
    fmt = sniff_format(path, field=field)
    if fmt == "sequences":
        raise UserError(
            "class files must be BED or FASTA",
            file=path,
            field=field,
            hint="add '>' headers to make it FASTA",
        )
    return fmt


def _branch_problems(config: PreprocessConfig, formats: dict[str, str]) -> list[UserError]:
    """What each chosen branch's encoder finds wrong, and options of unknown branches."""
    problems: list[UserError] = []
    for branch in config.branches:
        try:
            encoder = encoder_type(branch)
        except UserError as problem:
            problems.append(problem)
            continue
        problems += encoder.check_config(config, formats)
        try:
            encoder.from_config(config)
        except (TypeError, ValueError) as exc:
            problems.append(
                UserError(
                    f"the options of the '{branch}' branch do not fit it ({exc})",
                    field=f"branch_options.{branch}",
                    hint="see the branch type's documentation for its options",
                )
            )
    for branch in config.branch_options:
        if branch not in branch_names():
            problems.append(
                UserError(
                    f"branch_options names '{branch}', which is not a known branch",
                    field=f"branch_options.{branch}",
                    hint=f"known branches: {', '.join(branch_names())}",
                )
            )
    return problems


def _warn_unused_options(config: PreprocessConfig) -> None:
    """Warn about options of branch types that are not chosen (they change nothing)."""
    for branch in branch_names():
        if branch in config.branches:
            continue
        encoder = encoder_class(branch)
        for name in getattr(encoder, "option_fields", ()):
            info = PreprocessConfig.model_fields.get(name)
            if info and getattr(config, name) != info.get_default(call_default_factory=True):
                log.warning("%s is set but the %s branch is not chosen: it is unused", name, branch)
        if branch in config.branch_options:
            log.warning("branch_options.%s is set but the branch is not chosen: unused", branch)


def make_encoders(config: PreprocessConfig) -> dict[str, BranchEncoder]:
    """The encoder of every chosen branch, in branch order.

    Raises:
        UserError: A branch type is not installed.
    """
    return {b: encoder_type(b).from_config(config) for b in config.branches}


# --------------------------------------------------------------------------- selection


def select_samples(config: PreprocessConfig, classes: list[ClassWindows]) -> list[dict[str, Any]]:
    """Reduce each class and assign splits.

    Returns:
        Per class: ``indices`` (rows of its cached windows kept, ascending) and
        ``splits`` (split code of each kept row).
    """
    selections = []
    for number, cls in enumerate(classes):
        n = len(cls.table)
        amount = config.reduce.get(cls.name)
        kept = reduce_indices(n, amount, np.random.default_rng([config.seed, 1, number]))
        cls.counts["after_reduction"] = int(kept.size)
        if config.split == "random":
            codes = random_split(
                kept.size, config.ratios, np.random.default_rng([config.seed, 2, number])
            )
        else:
            chroms = cls.table["chrom"].astype(str).to_numpy()[kept]
            codes = chromosome_split(chroms, config.chromosomes)
            unassigned = codes == UNASSIGNED
            cls.counts["dropped_unlisted_chromosome"] = int(unassigned.sum())
            if unassigned.any():
                log.warning(
                    "class %s: %d samples on chromosomes in no split were dropped",
                    cls.name,
                    int(unassigned.sum()),
                )
            kept, codes = kept[~unassigned], codes[~unassigned]
        cls.counts["splits"] = {s: int((codes == i).sum()) for i, s in enumerate(SPLITS)}
        for required in SPLITS[:3]:
            if cls.counts["splits"][required] == 0:
                raise UserError(
                    f"class '{cls.name}' has no samples in the {required} split "
                    f"({kept.size} samples after reduction)",
                    field="chromosomes" if config.split == "chromosome" else "ratio",
                    hint="give more samples, a milder reduction, or another split",
                )
        selections.append({"indices": kept, "splits": codes})
    return selections


# --------------------------------------------------------------------------- writing


def write_dataset(
    run_dir: Path,
    window: int,
    classes: list[ClassWindows],
    selections: list[dict[str, Any]],
    encoders: dict[str, BranchEncoder],
    branch_paths: list[dict[str, Path]],
) -> np.ndarray:
    """Write the branch arrays, labels, splits and the samples table.

    Args:
        run_dir: The dataset folder.
        window: Window length.
        classes: Every class's windows (cached).
        selections: Per class: the kept rows and their split codes.
        encoders: The branch encoders, in branch order.
        branch_paths: Per class: each branch's cached stored array.

    Returns:
        The split code of every sample, shape=(n,), uint8.
    """
    total = int(sum(sel["indices"].size for sel in selections))
    (run_dir / "branches").mkdir()
    outputs = {}
    for name, encoder in encoders.items():
        outputs[name] = allocate_npy(  # space reserved: a full disk is an error, not SIGBUS
            run_dir / "branches" / f"{name}.npy",
            dtype=encoder.stored_dtype,
            shape=(total, *encoder.stored_shape(window)),
        )
    labels = np.empty(total, dtype=np.int16)
    splits = np.empty(total, dtype=np.uint8)
    samples_path = run_dir / SAMPLES_FILE
    offset = 0
    for number, (cls, sel, paths) in enumerate(zip(classes, selections, branch_paths, strict=True)):
        idx, codes = sel["indices"], sel["splits"]
        for name in encoders:
            source = np.load(paths[name], mmap_mode="r")
            for lo in range(0, idx.size, CHUNK):
                part = idx[lo : lo + CHUNK]
                outputs[name][offset + lo : offset + lo + part.size] = source[part]
        labels[offset : offset + idx.size] = number
        splits[offset : offset + idx.size] = codes
        rows = cls.table.iloc[idx][TABLE_COLUMNS].copy()
        rows.insert(0, "index", np.arange(offset, offset + idx.size))
        rows.insert(1, "class", cls.name)
        rows.insert(2, "split", np.asarray(SPLITS)[codes])
        rows.to_csv(samples_path, sep="\t", index=False, mode="a", header=(number == 0))
        offset += idx.size
    for array in outputs.values():
        array.flush()
    np.save(run_dir / "labels.npy", labels)
    np.save(run_dir / "splits.npy", splits)
    return splits


def dataset_metadata(
    config: PreprocessConfig,
    classes: list[ClassWindows],
    encoders: dict[str, BranchEncoder],
    splits: np.ndarray,
    cache: WindowCache,
    genome: GenomeHandle,
    genome_needed: bool,
) -> DatasetMetadata:
    """The dataset's metadata: the preprocessing spec plus classes, counts and cache use.

    Args:
        config: The preprocess configuration.
        classes: Every class's windows, with counts.
        encoders: The branch encoders (after encoding: their cache counters are set).
        splits: The split code of every sample.
        cache: The window cache (hits, misses, file checksums).
        genome: The genome handle (whether it was opened).
        genome_needed: Whether the inputs needed the genome (its checksum is recorded).
    """
    genome_reference = None
    if config.genome:
        md5 = cache.checksum(config.genome) if genome_needed or genome.opened else None
        genome_reference = {"file": str(config.genome), "md5": md5}
    references: dict[str, Any] = {
        "classes": {cls.name: cls.references for cls in classes if cls.references},
        "genome": genome_reference,
    }
    stats: dict[str, Any] = {"hits": cache.hits, "misses": cache.misses}
    for encoder in encoders.values():
        references.update(encoder.references(cache.checksum))
        stats.update(encoder.cache_stats())
    return DatasetMetadata(
        format_version=FORMAT_VERSION,
        gennie_version=VERSION,
        classes=[cls.name for cls in classes],
        window=config.window,
        alphabet=config.alphabet,
        strand=config.strand,
        placement=config.placement,
        unknown_bases=config.unknown_bases,
        seed=config.seed,
        branches={name: BranchSpec.of(encoder) for name, encoder in encoders.items()},
        references=References.model_validate(references),
        samples=int(splits.size),
        splits={s: int((splits == i).sum()) for i, s in enumerate(SPLITS)},
        counts={cls.name: ClassCounts.model_validate(cls.counts) for cls in classes},
        cache=CacheStats.model_validate({**stats, "genome_read": genome.opened}),
    )


def preprocess(config: PreprocessConfig) -> StageResult:
    """Run the preprocess stage (see the module docstring).

    Args:
        config: The preprocess configuration.

    Returns:
        The dataset's run folder and a summary (samples per class and split, counts).

    Raises:
        UserError: Any problem with the inputs; nothing is left half-written.
    """
    formats = check_config(config)
    config = with_window(config, formats)
    encoders = make_encoders(config)
    settings = WindowSettings.of(config)
    with run_folder(config) as run:
        temporary = None
        if config.cache:
            cache = WindowCache(config.cache_dir or Path(config.out) / "cache")
        else:
            temporary = tempfile.TemporaryDirectory(dir=run.dir, prefix=".work-")
            cache = WindowCache(Path(temporary.name))
        for encoder in encoders.values():
            encoder.attach_cache(cache.root, cache.checksum)
        genome = GenomeHandle(config.genome)
        class_files, sources = dict(config.classes), {}
        if config.input:
            labelled = tempfile.TemporaryDirectory(dir=run.dir, prefix=".labelled-")
            class_files, sources = labelled_class_files(config, Path(labelled.name))
        classes = [
            _map_class_file(name, Path(path), formats[name], settings, cache, genome, sources)
            for name, path in track(
                class_files.items(),
                len(class_files),
                "classes",
                "class",
                quiet=len(class_files) < 2,
            )
        ]
        if config.negatives:
            source = next(
                c for c in classes if c.name == (config.negatives_from or classes[0].name)
            )
            others = [c for c in classes if c is not source]
            classes.append(make_negatives(config, source, others, cache, genome))
        branch_paths = [
            encode_branches(c.entry, c.table, encoders, config.window, c.counts) for c in classes
        ]
        selections = select_samples(config, classes)
        splits = write_dataset(run.dir, config.window, classes, selections, encoders, branch_paths)
        genome_needed = "bed" in formats.values() or config.negatives == "background"
        metadata = dataset_metadata(config, classes, encoders, splits, cache, genome, genome_needed)
        metadata.write(run.dir / METADATA_FILE)
        if temporary is not None:
            temporary.cleanup()
        if config.input:
            labelled.cleanup()
        run.summary.update(
            {
                "samples": metadata.samples,
                "splits": metadata.splits,
                "class_splits": {c.name: c.counts.get("splits") for c in classes},
                "counts": {
                    c.name: {k: v for k, v in c.counts.items() if k != "splits"} for c in classes
                },
                "cache_hits": cache.hits,
            }
        )
        for cls in classes:
            log.debug("class %s: %s", cls.name, json.dumps(cls.counts))
        message = preprocess_summary(metadata)
        for line in message.splitlines():
            log.info(line)
        return StageResult(run_dir=run.dir, summary=run.summary, stage=run.stage, message=message)


DROPS = {
    "dropped_short_chromosome": "on a chromosome shorter than the window",
    "dropped_past_chromosome_end": "past the chromosome end",
    "dropped_unlisted_chromosome": "on a chromosome of no split",
}
"""Why records were dropped, by their count's name in :class:`ClassCounts`."""


def preprocess_summary(metadata: DatasetMetadata) -> str:
    """What preprocess made, one line per class under a headline, e.g.::

    dataset: 400 samples, window 101 (train 280, validation 60, test 60)
      bound: 200 samples (train 140, ...) of 203 records; 3 dropped past the chromosome end
      unbound: 200 samples (train 140, ...) of 200 records; 12 padded with N
    """

    def shares(splits: dict[str, int]) -> str:
        return ", ".join(f"{split} {splits.get(split, 0)}" for split in SPLITS)

    lines = [
        f"dataset: {metadata.samples} samples, window {metadata.window} ({shares(metadata.splits)})"
    ]
    for name, counts in metadata.counts.items():
        extra = counts.model_extra or {}
        notes = [
            f"{int(extra.get(key, getattr(counts, key, 0)) or 0)} dropped {why}"
            for key, why in DROPS.items()
            if int(extra.get(key, getattr(counts, key, 0)) or 0)
        ]
        if counts.shifted_at_chromosome_end:
            notes.append(f"{counts.shifted_at_chromosome_end} shifted inside a chromosome end")
        if counts.padded:
            notes.append(f"{counts.padded} padded with N")
        if extra.get("generated_from"):
            notes.append(f"generated from {extra['generated_from']} ({extra.get('method')})")
        kept = sum(counts.splits.values())
        line = f"  {name}: {kept} samples ({shares(counts.splits)}) of {counts.records} records"
        lines.append(line + ("; " + "; ".join(notes) if notes else ""))
    return "\n".join(lines)
