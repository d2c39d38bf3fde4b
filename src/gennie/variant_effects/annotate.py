"""The input VCF annotated with the effects: ``variants.vcf.gz``, bgzipped and indexed.

Every record of the input is kept as written (the first eight columns; sample columns
are left out), with INFO fields added per ALT allele (``Number=A``; ``.`` for an allele
that was not scored):

- ``GENNIE_STATUS``: ``scored``, ``ref_mismatch``, ``outside_sites`` or ``skipped``;
- ``GENNIE_STRAND``: the strand of the effect reported (of the strands and site windows
  an allele was scored in, the one with the largest effect on any class);
- ``GENNIE_DELTA_<class>``: ALT − REF probability of the class;
- ``GENNIE_LOGODDS_<class>``: ALT − REF log-odds of the class.

The records are copied as text (so that INFO tags the input uses without declaring
them survive), compressed with pysam's BGZF writer and indexed with tabix (pysam); an
unsorted VCF cannot be indexed, which is logged, and the file is kept without index.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from gennie.io.files import open_text
from gennie.variant_effects.alleles import SCORED

log = logging.getLogger("gennie.variants")


def info_key(kind: str, name: str) -> str:
    """The INFO key of a class's effect (``GENNIE_DELTA_bound``); characters INFO keys
    do not allow become ``_``."""
    return f"GENNIE_{kind}_" + re.sub(r"[^0-9A-Za-z_.]", "_", name)


def header_lines(classes: list[str]) -> list[str]:
    """The ``##INFO`` lines describing the added fields."""
    lines = [
        '##INFO=<ID=GENNIE_STATUS,Number=A,Type=String,Description="gennie: scored, '
        'ref_mismatch, outside_sites or skipped (reason in variants.tsv)">',
        '##INFO=<ID=GENNIE_STRAND,Number=A,Type=String,Description="gennie: strand of the '
        'reported effect (the one with the largest effect of the strands scored)">',
    ]
    for name in classes:
        lines += [
            f"##INFO=<ID={info_key('DELTA', name)},Number=A,Type=Float,Description="
            f'"gennie: ALT - REF probability of class {name}">',
            f"##INFO=<ID={info_key('LOGODDS', name)},Number=A,Type=Float,Description="
            f'"gennie: ALT - REF log-odds of class {name}">',
        ]
    return lines


def _record_groups(table: Path) -> Iterator[tuple[int, pd.DataFrame]]:
    """The rows of ``variants.tsv`` grouped by record number, in order, streamed."""
    pending: pd.DataFrame | None = None
    for chunk in pd.read_csv(table, sep="\t", chunksize=50_000, dtype=str, keep_default_na=False):
        if pending is not None:
            chunk = pd.concat([pending, chunk])
        last = chunk["record"].iloc[-1]
        done, pending = chunk[chunk["record"] != last], chunk[chunk["record"] == last]
        yield from done.groupby("record", sort=False)
    if pending is not None and len(pending):
        yield from pending.groupby("record", sort=False)


def _number(value: object) -> str:
    """A table cell as an INFO value: ``.`` for an empty one."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "."
    return "." if np.isnan(number) else f"{number:.6g}"


def _annotations(rows: pd.DataFrame, alts: list[str], classes: list[str]) -> str:
    """The INFO fields of one record from its rows (one value per ALT allele)."""
    fields: dict[str, list[str]] = {"GENNIE_STATUS": [], "GENNIE_STRAND": []}
    for name in classes:
        fields[info_key("DELTA", name)] = []
        fields[info_key("LOGODDS", name)] = []
    deltas = [f"delta_{c}" for c in classes]
    for alt in alts:
        mine = rows[rows["alt"] == alt]
        scored = mine[mine["status"] == SCORED]
        if len(scored):
            size = scored[deltas].astype(float).abs().max(axis=1).to_numpy()
            best = scored.iloc[int(np.argmax(size))]
            fields["GENNIE_STATUS"].append(SCORED)
            fields["GENNIE_STRAND"].append(str(best["strand"]))
            for name in classes:
                fields[info_key("DELTA", name)].append(_number(best[f"delta_{name}"]))
                fields[info_key("LOGODDS", name)].append(_number(best[f"logodds_{name}"]))
            continue
        status = str(mine["status"].iloc[0]).split(":")[0] if len(mine) else "skipped"
        fields["GENNIE_STATUS"].append(status)
        for key, values in fields.items():
            if key != "GENNIE_STATUS":
                values.append(".")
    return ";".join(f"{k}={','.join(v)}" for k, v in fields.items())


def write_annotated_vcf(vcf: Path, table: Path, out: Path) -> Path | None:
    """Write the annotated VCF (see the module docstring) and its tabix index.

    Args:
        vcf: The input VCF.
        table: The run's ``variants.tsv``.
        out: The ``.vcf.gz`` to write (``.tbi`` beside it).

    Returns:
        The index, or None if the VCF could not be indexed (unsorted).
    """
    columns = pd.read_csv(table, sep="\t", nrows=0).columns
    classes = [c.removeprefix("delta_") for c in columns if c.startswith("delta_")]
    partial = out.with_name(out.name.replace(".vcf.gz", ".partial.vcf.gz"))
    groups = _record_groups(table)
    writer = pysam.BGZFile(str(partial), "wb")
    try:
        with open_text(vcf, "vcf") as handle:
            for line in handle:
                line = line.rstrip("\r\n")
                if not line:
                    continue
                if line.startswith("##"):
                    writer.write((line + "\n").encode())
                    continue
                if line.startswith("#"):
                    extra = "".join(f"{h}\n" for h in header_lines(classes))
                    head = "\t".join(line.split("\t")[:8])
                    writer.write((extra + head + "\n").encode())
                    continue
                cells = line.split("\t", 8)[:8]
                _, rows = next(groups)
                added = _annotations(rows, cells[4].split(","), classes)
                cells[7] = added if cells[7] in ("", ".") else f"{cells[7]};{added}"
                writer.write(("\t".join(cells) + "\n").encode())
    finally:
        writer.close()
    partial.replace(out)
    verbosity = pysam.set_verbosity(0)
    try:
        pysam.tabix_index(str(out), preset="vcf", force=True)
    except (OSError, ValueError, pysam.utils.SamtoolsError) as exc:
        log.warning("%s is not indexed (%s): sort the VCF to index it", out.name, exc)
        return None
    finally:
        pysam.set_verbosity(verbosity)
    return Path(str(out) + ".tbi")
