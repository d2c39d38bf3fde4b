"""From VCF records to output rows and the windows to score.

Every ALT allele of a record gets at least one row (in record and ALT order): one per
strand and site window it is scored in, or one saying why it is not scored. The
``status`` of a row is one of :data:`SCORED`, :data:`REF_MISMATCH`,
:data:`OUTSIDE_SITES` or ``skipped: <reason>``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from gennie.errors import UserError
from gennie.io.fasta import Genome
from gennie.io.tracks import chrom_alias
from gennie.variant_effects.scoring import Task
from gennie.variant_effects.sites import Site, SiteWindows
from gennie.variant_effects.vcf import VcfRecord, skip_reason
from gennie.variant_effects.windows import variant_windows

_NOT_BASES = re.compile("[^ACGT]")

SCORED = "scored"
REF_MISMATCH = "ref_mismatch"
OUTSIDE_SITES = "outside_sites"
SKIPPED = "skipped"

META_COLUMNS = ["chrom", "pos", "id", "ref", "alt", "strand", "status"]
"""The identity and status columns of ``variants.tsv`` (``site`` follows with sites)."""


@dataclass(frozen=True)
class Row:
    """One output row before scoring.

    Attributes:
        record: The VCF record.
        alt: Its ALT allele of this row.
        strand: ``+``, ``-``, or ``.`` for rows that are not scored.
        status: See the module docstring.
        site: The site whose window it is scored in (empty without sites).
    """

    record: VcfRecord
    alt: str
    strand: str
    status: str
    site: str = ""

    def values(self, with_site: bool) -> list[object]:
        """The row's identity and status cells (``site`` too when ``with_site``)."""
        r = self.record
        cells: list[object] = [r.chrom, r.pos, r.id, r.ref, self.alt, self.strand, self.status]
        return [*cells, self.site] if with_site else cells


class AlleleWindows:
    """Turns records into rows and tasks.

    Args:
        genome: The reference genome.
        window: The model's window length W.
        strand: The ``strand`` option (``auto``, ``+``, ``-``, ``both``).
        flip_minus: Whether the model's minus-strand windows are reverse-complemented.
        sites: The site windows, or None to centre each variant.
        ref_mismatch: ``skip`` or ``error``.
        vcf: The VCF (for messages).
    """

    def __init__(
        self,
        genome: Genome,
        window: int,
        strand: str,
        flip_minus: bool,
        sites: SiteWindows | None,
        ref_mismatch: str,
        vcf: Path,
    ) -> None:
        self.genome = genome
        self.window = window
        self.strand = strand
        self.flip_minus = flip_minus
        self.sites = sites
        self.ref_mismatch = ref_mismatch
        self.vcf = vcf
        self._lengths: dict[str, int | None] = {}
        self._stretch: tuple[str, int, str] = ("", 0, "")

    def _length(self, record: VcfRecord) -> int | None:
        """The record's chromosome length, None if the genome lacks it.

        Raises:
            UserError: The genome names the chromosome differently (``chr1`` vs ``1``).
        """
        chrom = record.chrom
        if chrom not in self._lengths:
            lengths = self.genome.chrom_lengths
            alias = chrom_alias(chrom, lengths) if chrom not in lengths else None
            if alias is not None:
                raise UserError(
                    f"chromosome names differ: the VCF says '{chrom}', the genome "
                    f"{self.genome.path.name} calls it '{alias}'",
                    file=self.vcf,
                    line=record.line,
                    field="vcf",
                    hint="rename the chromosomes of the VCF or of the genome so that they "
                    "match (e.g. bcftools annotate --rename-chrs)",
                )
            self._lengths[chrom] = lengths.get(chrom)
        return self._lengths[chrom]

    def _bases(self, chrom: str, start: int, end: int) -> str:
        """The genome's bases as the model's windows hold them: IUPAC codes and odd
        letters read as N, as preprocess reads a reference.

        A stretch of two windows on either side is read at a time and kept, so that the
        REF check and the windows of a record (and of its neighbours) read the genome
        once.
        """
        chrom_cached, low, text = self._stretch
        if chrom_cached != chrom or start < low or end > low + len(text):
            low = max(0, start - 2 * self.window)
            high = min(self.genome.chrom_lengths[chrom], end + 2 * self.window)
            text = _NOT_BASES.sub("N", self.genome.fetch(chrom, low, high))
            self._stretch = (chrom, low, text)
        return text[start - low : end - low]

    def _placements(self, record: VcfRecord, pos: int) -> list[tuple[str, Site | None]]:
        """(strand, site) pairs an allele is scored in; empty when it is in no site."""
        both = ["+", "-"]
        if self.sites is None:
            return [(s, None) for s in (both if self.strand in ("auto", "both") else [self.strand])]
        pairs: list[tuple[str, Site | None]] = []
        for site in self.sites.overlapping(record.chrom, pos, len(record.ref)):
            if self.strand == "auto":
                strands = [site.strand]
            else:
                strands = both if self.strand == "both" else [self.strand]
            pairs += [(s, site) for s in strands]
        return pairs

    def _reason(self, record: VcfRecord, alt: str) -> str | None:
        """Why an allele is not scored, before the genome is read (None: it may be)."""
        reason = skip_reason(record.ref, alt, self.window // 2)
        if reason is not None:
            return f"{SKIPPED}: {reason}"
        length = self._length(record)
        if length is None:
            return f"{SKIPPED}: chromosome {record.chrom} is not in the genome"
        if length < self.window:
            return f"{SKIPPED}: chromosome shorter than the window ({self.window})"
        if record.pos - 1 + len(record.ref) > length:
            return f"{SKIPPED}: past the end of chromosome {record.chrom} ({length} bases)"
        return None

    def _check_ref(self, record: VcfRecord) -> bool:
        """Whether REF is the genome's bases there.

        Raises:
            UserError: It is not and ``ref_mismatch`` is ``error``.
        """
        start = record.pos - 1
        genome_ref = self._bases(record.chrom, start, start + len(record.ref))
        if genome_ref == record.ref.upper():
            return True
        if self.ref_mismatch == "error":
            raise UserError(
                f"REF {record.ref} at {record.chrom}:{record.pos} differs from the genome's "
                f"{genome_ref}",
                file=self.vcf,
                line=record.line,
                field="ref_mismatch",
                hint="check that the VCF and the genome are of the same assembly, or give "
                "--ref-mismatch skip to list such variants and go on",
            )
        return False

    def rows(self, record: VcfRecord, first_row: int) -> tuple[list[Row], list[Task]]:
        """The rows of a record's alleles, and the tasks of those to score.

        Args:
            record: The VCF record.
            first_row: The output row number of its first row.

        Returns:
            Rows in ALT order, and a task for every scored row.
        """
        rows: list[Row] = []
        tasks: list[Task] = []
        ref_ok: bool | None = None
        for alt in record.alts:
            status = self._reason(record, alt)
            if status is None:
                ref_ok = self._check_ref(record) if ref_ok is None else ref_ok
                status = None if ref_ok else REF_MISMATCH
            if status is not None:
                rows.append(Row(record, alt, ".", status))
                continue
            pos = record.pos - 1
            placements = self._placements(record, pos)
            if not placements:
                rows.append(Row(record, alt, ".", OUTSIDE_SITES))
                continue
            length = self._length(record) or 0
            fetch = functools.partial(self._bases, record.chrom)
            for strand, site in placements:
                windows = variant_windows(
                    fetch,
                    length,
                    pos,
                    record.ref.upper(),
                    alt.upper(),
                    self.window,
                    flip=strand == "-" and self.flip_minus,
                    ref_start=None if site is None else site.start,
                )
                tasks.append(Task(first_row + len(rows), record.chrom, strand, windows))
                rows.append(Row(record, alt, strand, SCORED, site.label if site else ""))
        return rows, tasks
