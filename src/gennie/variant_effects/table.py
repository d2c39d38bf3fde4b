"""``variants.tsv``, written chunk by chunk in input order, and what the run keeps of it
(counts, every effect for the distribution plot, the largest effects for the report)."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gennie.variant_effects.alleles import (
    META_COLUMNS,
    OUTSIDE_SITES,
    REF_MISMATCH,
    SCORED,
    SKIPPED,
    Row,
)
from gennie.variant_effects.scoring import Scores, Task


def effect_columns(classes: list[str]) -> list[str]:
    """``ref_<c>``, ``alt_<c>``, ``delta_<c>``, ``logodds_<c>`` for every class, grouped
    by kind."""
    return [f"{kind}_{c}" for kind in ("ref", "alt", "delta", "logodds") for c in classes]


def table_columns(classes: list[str], with_site: bool) -> list[str]:
    """Every column of ``variants.tsv``, in order."""
    meta = [*META_COLUMNS, "site"] if with_site else list(META_COLUMNS)
    return [*meta, *effect_columns(classes), "record"]


@dataclass(order=True)
class TopEffect:
    """A scored row among the largest effects of a class.

    Attributes:
        size: |delta| of the class.
        order: Minus the row number (ties: the earlier row ranks first).
        row: Its data row in ``variants.tsv`` (0-based).
        task: Its windows.
        label: A description (``chr1:100 A>G rs1 (+)``).
        ref, alt: Its REF and ALT probabilities of every class.
    """

    size: float
    order: int
    row: int = field(compare=False)
    task: Task = field(compare=False)
    label: str = field(compare=False)
    ref: np.ndarray = field(compare=False)
    alt: np.ndarray = field(compare=False)


def describe(row: Row) -> str:
    """``chr1:100 A>G rs1 (+, site peak7)``."""
    record = row.record
    text = f"{record.chrom}:{record.pos} {record.ref}>{row.alt}"
    if record.id != ".":
        text += f" {record.id}"
    inside = ", ".join(p for p in (row.strand, f"site {row.site}" if row.site else "") if p)
    return f"{text} ({inside})"


class EffectTable:
    """Writes ``variants.tsv`` chunk by chunk and keeps counts, effects and the top
    effects of every class.

    Args:
        path: The TSV to write.
        classes: The model's class names.
        with_site: Whether rows have a ``site`` column.
        top: Largest effects kept per class.
    """

    def __init__(self, path: Path, classes: list[str], with_site: bool, top: int) -> None:
        self.path = Path(path)
        self.classes = list(classes)
        self.with_site = with_site
        self.top = top
        self.columns = table_columns(self.classes, with_site)
        self.rows = 0
        self.counts = {SCORED: 0, REF_MISMATCH: 0, OUTSIDE_SITES: 0, SKIPPED: 0}
        self.reasons: dict[str, int] = {}
        self.deltas: list[np.ndarray] = []
        self.best: list[list[TopEffect]] = [[] for _ in self.classes]
        pd.DataFrame(columns=self.columns).to_csv(self.path, sep="\t", index=False)

    def _count(self, rows: list[Row]) -> None:
        for row in rows:
            if row.status.startswith(SKIPPED):
                self.counts[SKIPPED] += 1
                reason = row.status.split(": ", 1)[-1]
                self.reasons[reason] = self.reasons.get(reason, 0) + 1
            else:
                self.counts[row.status] += 1

    def _keep_top(self, rows: list[Row], tasks: list[Task], scores: Scores | None) -> None:
        if scores is None or not tasks or self.top == 0:
            return
        delta = scores.alt - scores.ref
        for k in range(len(self.classes)):
            sizes = np.abs(delta[:, k])
            picked = np.argsort(-sizes, kind="stable")[: self.top]
            fresh = [
                TopEffect(
                    float(sizes[i]),
                    -tasks[i].row,
                    tasks[i].row,
                    tasks[i],
                    describe(rows[tasks[i].row - self.rows]),
                    scores.ref[i],
                    scores.alt[i],
                )
                for i in picked
            ]
            self.best[k] = heapq.nlargest(self.top, self.best[k] + fresh)

    def add(self, rows: list[Row], tasks: list[Task], scores: Scores | None) -> None:
        """Append rows (in input order) and the scores of their tasks."""
        n, k = len(rows), len(self.classes)
        ref = np.full((n, k), np.nan)
        alt = np.full((n, k), np.nan)
        ref_odds = np.full((n, k), np.nan)
        alt_odds = np.full((n, k), np.nan)
        at = np.array([t.row - self.rows for t in tasks], dtype=np.int64)
        if tasks and scores is not None:
            ref[at], alt[at] = scores.ref, scores.alt
            ref_odds[at], alt_odds[at] = scores.ref_logodds, scores.alt_logodds
            self.deltas.append((scores.alt - scores.ref).astype(np.float32))
        frame = pd.DataFrame(
            [r.values(self.with_site) for r in rows], columns=self.columns[: -4 * k - 1]
        )
        numbers = np.concatenate([ref, alt, alt - ref, alt_odds - ref_odds], axis=1)
        effects = pd.DataFrame(np.round(numbers, 6), columns=effect_columns(self.classes))
        frame = pd.concat([frame, effects], axis=1)
        frame["record"] = [r.record.number for r in rows]
        frame.to_csv(self.path, sep="\t", index=False, header=False, mode="a")
        self._count(rows)
        self._keep_top(rows, tasks, scores)
        self.rows += n

    def all_deltas(self) -> np.ndarray:
        """shape=(scored rows, K), every effect (ALT − REF probability)."""
        if not self.deltas:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        return np.concatenate(self.deltas)

    def top_effects(self) -> dict[str, list[TopEffect]]:
        """The largest effects of every class, largest first."""
        return {c: sorted(b, reverse=True) for c, b in zip(self.classes, self.best, strict=True)}
