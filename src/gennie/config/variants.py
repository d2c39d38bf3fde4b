"""The variants stage's configuration: a model + a VCF → the effect of every variant."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from gennie.config.stages import ModelInputConfig


class VariantsConfig(ModelInputConfig):
    """A model + a VCF → how much each variant changes every class's probability
    (REF and ALT windows scored on all the model's branches)."""

    stage: ClassVar[str] = "variants"
    vcf: Path | None = Field(
        None,
        description="The variants: VCF 4.1-4.3, plain or bgzipped (sample columns are ignored).",
    )
    sites: Path | None = Field(
        None,
        description="BED of sites (e.g. the peaks the model was trained on): a variant in "
        "a site's window is scored in that window and on the site's strand; variants in no "
        "site are listed as outside_sites. Empty: each variant centred in its own window.",
    )
    strand: Literal["auto", "+", "-", "both"] = Field(
        "auto",
        description="Strand of the windows: 'auto' is the site's strand with sites, else "
        "both strands. RNA models need the transcript's strand.",
    )
    ref_mismatch: Literal["skip", "error"] = Field(
        "skip",
        description="A REF allele that differs from the genome: list it as ref_mismatch "
        "and go on (skip), or stop with an error.",
    )
    top: int = Field(
        10,
        ge=0,
        le=200,
        description="Variants with the largest effect per class drawn in report.html, with "
        "REF and ALT attributions (Integrated Gradients).",
    )
    steps: int = Field(
        50, ge=1, le=10_000, description="Integration steps of the report's attributions."
    )
    cache_dir: Path | None = Field(
        None,
        description="Cache folder of folded structures (default: gennie's own cache "
        "folder). Give the cache of the preprocess run (<out>/cache) to take the structures "
        "of the windows folded there (e.g. the sites) from it.",
        json_schema_extra={"output": True},
    )
    jobs: int = Field(
        0,
        ge=0,
        le=1024,
        description="Folding processes for a fold branch (0: one per core).",
    )
