"""The preprocess stage: class files → windows → encoded branches → dataset folder.

Steps, for each class file:

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
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from gennie.config import SPLITS, PreprocessConfig
from gennie.dataset.mapping import (
    CHUNK,
    TABLE_COLUMNS,
    ClassWindows,
    GenomeHandle,
    encode_branches,
    make_negatives,
    map_class,
)
from gennie.dataset.split import UNASSIGNED, chromosome_split, random_split, reduce_indices
from gennie.dataset.store import FORMAT_VERSION, METADATA_FILE, SAMPLES_FILE
from gennie.dataset.windows_cache import WindowCache
from gennie.encode import BranchEncoder, make_encoder
from gennie.errors import UserError
from gennie.io.files import require_file, sniff_format
from gennie.runs import StageResult, run_folder
from gennie.version import VERSION

log = logging.getLogger("gennie.preprocess")


# --------------------------------------------------------------------------- validation


def check_config(config: PreprocessConfig) -> dict[str, str]:
    """Check everything that can be checked before any work starts.

    Returns:
        The format (``bed`` or ``fasta``) of each class file.

    Raises:
        UserError: The first problem found.
    """
    needed = 1 if config.negatives else 2
    if len(config.classes) < needed:
        raise UserError(
            f"at least {needed} class file(s) are needed, got {len(config.classes)}",
            field="classes",
            hint="give one --class NAME=FILE per class",
        )
    formats: dict[str, str] = {}
    for name, path in config.classes.items():
        require_file(path, f"classes.{name}", "class file")
        fmt = sniff_format(path, field=f"classes.{name}")
        if fmt == "sequences":
            raise UserError(
                "class files must be BED or FASTA",
                file=path,
                field=f"classes.{name}",
                hint="add '>' headers to make it FASTA",
            )
        formats[name] = fmt
    if "bed" in formats.values() or config.negatives == "background":
        if config.genome is None:
            raise UserError(
                "BED class files need a reference genome or transcriptome",
                field="genome",
                hint="give --genome FASTA (plain or bgzip-compressed)",
            )
        require_file(config.genome, "genome", "genome FASTA")
    if config.split == "chromosome":
        fasta = [n for n, f in formats.items() if f == "fasta"]
        if fasta:
            raise UserError(
                "a chromosome split needs BED input; FASTA records have no chromosome",
                field="split",
                hint=f"use --split random (FASTA classes: {', '.join(fasta)})",
            )
    for branch in config.branches:
        encoder = make_encoder(branch, **_encoder_params(config, branch))
        if encoder.needs_coordinates and "fasta" in formats.values():
            fasta = [n for n, f in formats.items() if f == "fasta"]
            raise UserError(
                f"the '{branch}' branch needs genomic coordinates (BED input); FASTA "
                f"classes ({', '.join(fasta)}) have none",
                field="branches",
                hint=f"give BED class files with --genome, or leave out the '{branch}' branch",
            )
    _check_tracks(config)
    return formats


def _check_tracks(config: PreprocessConfig) -> None:
    """The cons branch has tracks, and every track is a readable bigWig or WIG file."""
    from gennie.io.tracks import track_format

    if "cons" in config.branches and not config.conservation:
        raise UserError(
            "the cons branch needs at least one signal track",
            field="conservation",
            hint="give --conservation TRACK (bigWig or WIG; repeat for several tracks)",
        )
    if config.conservation and "cons" not in config.branches:
        log.warning("conservation tracks are given but the cons branch is not: they are unused")
    for number, track in enumerate(config.conservation):
        require_file(track, f"conservation.{number}", "signal track")
        track_format(Path(track), f"conservation.{number}")


def _encoder_params(config: PreprocessConfig, branch: str) -> dict[str, Any]:
    """Parameters of a branch's encoder from the preprocess configuration."""
    if branch == "seq":
        return {"unknown_bases": config.unknown_bases}
    if branch == "fold":
        return {"temperature": config.fold_temperature, "jobs": config.jobs or os.cpu_count()}
    if branch == "cons":
        return {"tracks": [str(p) for p in config.conservation], "strand": config.strand}
    return {}


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
    config: PreprocessConfig,
    classes: list[ClassWindows],
    selections: list[dict[str, Any]],
    encoders: dict[str, BranchEncoder],
    branch_paths: list[dict[str, Path]],
) -> dict[str, Any]:
    """Write arrays, the samples table and metadata; return the metadata."""
    total = int(sum(sel["indices"].size for sel in selections))
    (run_dir / "branches").mkdir()
    outputs = {}
    for name, encoder in encoders.items():
        outputs[name] = np.lib.format.open_memmap(
            run_dir / "branches" / f"{name}.npy",
            mode="w+",
            dtype=encoder.stored_dtype,
            shape=(total, *encoder.stored_shape(config.window)),
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
    metadata = {
        "format_version": FORMAT_VERSION,
        "gennie_version": VERSION,
        "classes": [cls.name for cls in classes],
        "window": config.window,
        "alphabet": config.alphabet,
        "strand": config.strand,
        "placement": config.placement,
        "unknown_bases": config.unknown_bases,
        "seed": config.seed,
        "branches": {name: enc.description() for name, enc in encoders.items()},
        "samples": total,
        "splits": {s: int((splits == i).sum()) for i, s in enumerate(SPLITS)},
        "counts": {cls.name: cls.counts for cls in classes},
        "references": {
            "classes": {cls.name: cls.references for cls in classes if cls.references},
            "genome": ({"file": str(config.genome), "md5": None} if config.genome else None),
        },
    }
    return metadata


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
    encoders = {b: make_encoder(b, **_encoder_params(config, b)) for b in config.branches}
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
        classes = [
            map_class(name, Path(path), formats[name], config, cache, genome)
            for name, path in tqdm(
                config.classes.items(),
                desc="classes",
                unit="class",
                disable=len(config.classes) < 2,
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
        metadata = write_dataset(run.dir, config, classes, selections, encoders, branch_paths)
        if config.genome and (
            genome.opened or "bed" in formats.values() or config.negatives == "background"
        ):
            metadata["references"]["genome"]["md5"] = cache.checksum(config.genome)
        if "cons" in encoders:
            metadata["references"]["conservation"] = [
                {"file": str(t), "md5": cache.checksum(Path(t))} for t in config.conservation
            ]
        metadata["cache"] = {
            "hits": cache.hits,
            "misses": cache.misses,
            "genome_read": genome.opened,
        }
        if "fold" in encoders:
            fold = encoders["fold"]
            metadata["cache"]["folded"] = fold.folded  # type: ignore[attr-defined]
            metadata["cache"]["fold_cache_hits"] = fold.cache_hits  # type: ignore[attr-defined]
        (run.dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
        if temporary is not None:
            temporary.cleanup()
        run.summary.update(
            {
                "samples": metadata["samples"],
                "splits": metadata["splits"],
                "class_splits": {c.name: c.counts.get("splits") for c in classes},
                "counts": {
                    c.name: {k: v for k, v in c.counts.items() if k != "splits"} for c in classes
                },
                "cache_hits": cache.hits,
            }
        )
        for cls in classes:
            log.info("class %s: %s", cls.name, json.dumps(cls.counts))
        return StageResult(run_dir=run.dir, summary=run.summary, stage=run.stage)
