"""The variants stage: a model + a VCF + the genome → the effect of every variant.

Each ALT allele is scored on REF and ALT windows made as the model's preprocessing
makes windows (see :mod:`gennie.variant_effects.windows`): centred on the variant on
both strands by default, or in the window and on the strand of the site it falls in
(``sites``). Every branch is computed for both windows: the sequence, the structure
(ALT folded; REF from the fold cache when folded before) and track values.

The run folder holds ``variants.tsv`` (one row per allele and strand, in input order:
REF and ALT probability, their difference ``delta`` and the difference of log-odds
per class, or the reason an allele was not scored), ``variants.vcf.gz`` (the input
annotated, bgzipped and indexed), ``report.html`` (the largest effects per class with
REF and ALT attributions, and the distribution of effects) and ``effects.png``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from gennie.config import VariantsConfig
from gennie.dataset.inputs import InputMapper
from gennie.errors import UserError
from gennie.io.files import require_file
from gennie.model.inference import pick_device
from gennie.model.loading import LoadedModel, load_model, model_problems
from gennie.progress import Progress
from gennie.runs import (
    EFFECTS_PICTURE,
    REPORT_FILE,
    VARIANTS_FILE,
    VARIANTS_VCF,
    StageResult,
    run_folder,
)
from gennie.variant_effects.alleles import AlleleWindows, Row
from gennie.variant_effects.annotate import write_annotated_vcf
from gennie.variant_effects.report import write_effects_plot, write_variant_report
from gennie.variant_effects.scoring import Scorer, Task
from gennie.variant_effects.sites import SiteWindows
from gennie.variant_effects.table import EffectTable
from gennie.variant_effects.vcf import open_vcf, read_vcf

log = logging.getLogger("gennie.variants")

CHUNK = 8192
"""Windows scored at a time (a fold branch starts its folding processes once per
chunk)."""


def check(config: VariantsConfig) -> list[UserError]:
    """The problems of a variants configuration that show before the model is loaded.

    Returns:
        Field-tagged user errors: no VCF; the model (see
        :func:`~gennie.model.loading.model_problems`); a missing VCF, sites or genome
        file; a VCF that cannot be opened.
    """
    problems: list[UserError] = []
    if config.vcf is None:
        problems.append(
            UserError("no VCF given", field="vcf", hint="give --vcf with the variants to score")
        )
    problems += model_problems(config)
    for name, what in (("vcf", "VCF file"), ("sites", "BED file"), ("genome", "genome FASTA")):
        path = getattr(config, name)
        if path is None:
            continue
        try:
            require_file(path, name, what)
            if name == "vcf":
                open_vcf(Path(path)).close()
        except UserError as exc:
            problems.append(exc)
    return problems


def _scorer(config: VariantsConfig, model: LoadedModel, mapper: InputMapper) -> Scorer:
    """The model with its encoders, their caches (folded structures) in ``cache_dir`` or
    gennie's cache folder."""
    device = pick_device(config.device)
    root = Path(config.cache_dir) if config.cache_dir else mapper.cache_dir
    for encoder in mapper.encoders.values():
        encoder.attach_cache(root, mapper.checksum)
        if hasattr(encoder, "jobs"):  # encoders that start processes (folding)
            encoder.jobs = config.jobs or os.cpu_count() or 1
    forward = model.network.to(device).eval() if model.network is not None else model.forward
    return Scorer(
        forward, mapper.encoders, device, model.outputs_are_probabilities, config.batch_size
    )


def _score_vcf(
    config: VariantsConfig, alleles: AlleleWindows, scorer: Scorer, table: EffectTable
) -> int:
    """Stream the VCF through the scorer into the table, chunk by chunk; the number of
    records read."""
    rows: list[Row] = []
    tasks: list[Task] = []
    records = 0

    def flush() -> None:
        scores = scorer.score(tasks) if tasks else None
        table.add(rows, tasks, scores)
        rows.clear()
        tasks.clear()

    with Progress(None, "score variants", unit="record") as progress:
        for record in read_vcf(Path(config.vcf)):
            new_rows, new_tasks = alleles.rows(record, table.rows + len(rows))
            rows.extend(new_rows)
            tasks.extend(new_tasks)
            records += 1
            progress.update(1)
            if len(tasks) >= CHUNK or len(rows) >= 4 * CHUNK:
                flush()
        if rows:
            flush()
    return records


def variants(config: VariantsConfig) -> StageResult:
    """Run the variants stage (see the module docstring).

    Args:
        config: The variants configuration.

    Returns:
        The run folder and a summary (records, alleles, counts per status).

    Raises:
        UserError: The first problem :func:`check` finds, or one met while reading the
            model, the genome, the sites or the VCF.
    """
    problems = check(config)
    if problems:
        raise problems[0]
    model = load_model(config)
    spec = model.spec.preprocessing
    window = model.spec.window
    with InputMapper(model.spec, config.genome, config.conservation) as mapper:
        genome = mapper.genome_for(Path(config.vcf))
        sites = SiteWindows(Path(config.sites), genome, window) if config.sites else None
        scorer = _scorer(config, model, mapper)
        alleles = AlleleWindows(
            genome, window, config.strand, spec.strand, sites, config.ref_mismatch, config.vcf
        )
        with run_folder(config) as run:
            table = EffectTable(
                run.dir / VARIANTS_FILE, model.spec.classes, sites is not None, config.top
            )
            records = _score_vcf(config, alleles, scorer, table)
            if records == 0:
                raise UserError("the VCF has no records", file=config.vcf, field="vcf")
            branches = {
                name: {**encoder.cache_stats(), **encoder.counts}
                for name, encoder in scorer.encoders.items()
                if encoder.cache_stats() or encoder.counts
            }
            write_annotated_vcf(Path(config.vcf), run.dir / VARIANTS_FILE, run.dir / VARIANTS_VCF)
            plot = write_effects_plot(run.dir / EFFECTS_PICTURE, table.all_deltas(), table.classes)
            write_variant_report(run.dir / REPORT_FILE, table, scorer, model, config, records, plot)
            summary = {
                "records": records,
                "rows": table.rows,
                **table.counts,
                "skipped_reasons": dict(table.reasons),
                "variants_file": str(run.dir / VARIANTS_FILE),
            }
            if sites is not None:
                summary["sites"] = sites.count
            if branches:  # e.g. structures folded and taken from the cache, inserted bases
                summary["branches"] = branches
            log.info(
                "%d records, %d rows: %d scored, %d ref_mismatch, %d outside_sites, %d skipped",
                records,
                table.rows,
                *(table.counts[k] for k in ("scored", "ref_mismatch", "outside_sites", "skipped")),
            )
            run.summary.update(summary)
            return StageResult(run_dir=run.dir, summary=run.summary, stage=run.stage)
