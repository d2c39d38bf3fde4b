"""Regenerate the example data shipped in ``src/gennie/example/data``.

Two examples, both rebuilt byte for byte from fixed seeds:

* a subset of the RBP24 PUM2 PAR-CLIP experiment (real sequences, FASTA path), sampled
  from the benchmark files in ``--rbp24-dir``;
* a synthetic genome with a planted PUM2-like motif, two BED files of bound and
  unbound intervals (BED path) and a conservation track (bigWig) in which most
  planted sites are conserved; it needs no input.

Usage (relative paths are taken from the repository root, whatever the current folder)::

    .venv/bin/python scripts/make_example_data.py [--rbp24-dir DIR] [--out DIR] [--skip-rbp]
"""

from __future__ import annotations

import argparse
import gzip
import re
import tempfile
from pathlib import Path

import numpy as np
import pysam

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RBP24_DIR = Path("../shared/data/rbp24")
DEFAULT_OUT_DIR = Path("src/gennie/example/data")

#: (output file, source file, number of records, sampling seed)
RBP_SUBSETS = [
    ("pum2.train.positives.fa.gz", "PARCLIP_PUM2.train.positives.fa.gz", 1500, 101),
    ("pum2.train.negatives.fa.gz", "PARCLIP_PUM2.train.negatives.fa.gz", 1500, 102),
    ("pum2.test.positives.fa.gz", "PARCLIP_PUM2.ls.positives.fa.gz", 250, 103),
    ("pum2.test.negatives.fa.gz", "PARCLIP_PUM2.ls.negatives.fa.gz", 250, 104),
]

MOTIF = "TGTAAATA"
GENOME_SEED = 7
CHROM_LENGTHS = {"chr1": 60_000, "chr2": 50_000, "chr3": 40_000, "chrM": 300}
#: Assembly gaps, 0-based half-open; chr2 starts with one like a real telomere.
N_STRETCHES = {
    "chr1": [(20_000, 20_500), (45_000, 45_300)],
    "chr2": [(0, 500), (30_000, 30_800)],
    "chr3": [(25_000, 25_400)],
}
#: GC varies in 5-kb blocks between these bounds (mean ~40 %) so that GC matching of
#: background windows has something to match.
GC_BLOCK = 5_000
GC_RANGE = (0.32, 0.48)
N_BOUND = 300
N_UNBOUND = 300
SITE_LENGTH = (20, 80)
#: Site centres sit in slots this wide (jittered by +-SLOT_JITTER), so any two centres
#: are >= 200 bp apart and windows up to ~390 bp never reach another site's motif.
SLOT = 220
SLOT_JITTER = 10
#: Slots keep this distance from chromosome ends (reserved for the hand-placed sites
#: below) and from N stretches.
END_MARGIN = 300
GAP_MARGIN = 250
#: Hand-placed sites: (chrom, start, end, strand, bound); a negative start or a
#: non-positive end counts from the chromosome end (-30, 0 = the last 30 bases).
#: Near-end sites make a centred window run off the chromosome (so it must be
#: shifted); the chrM one is dropped by any window longer than 300 bp.
SPECIAL_SITES = [
    ("chr1", 3, 35, "+", True),
    ("chr2", -40, -6, "-", True),
    ("chr3", 0, 24, "-", True),
    ("chr3", -30, 0, "+", True),
    ("chrM", 140, 170, "+", True),
    ("chr1", -50, -20, "-", False),
]

#: The conservation track has its own seed, so the genome and BED files do not
#: depend on it.
CONSERVATION_SEED = 11
#: Share of planted sites whose motif bases are conserved; the others look like
#: background, as not every real binding site is conserved.
CONSERVED_SHARE = 0.9
#: Conserved 8-bp elements placed at random, unrelated to binding (decoys), spread
#: over the chromosomes in proportion to their length.
N_DECOYS = 150
#: Background scores are constant over blocks of this many bases (keeps the file small).
BACKGROUND_BLOCK = 10

_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def reverse_complement(sequence: str) -> str:
    """Reverse complement of an upper-case DNA sequence."""
    return sequence.translate(_COMPLEMENT)[::-1]


def read_fasta(path: Path) -> list[tuple[str, str]]:
    """Read a (gzipped) FASTA file.

    Args:
        path: FASTA file, gzipped or not.

    Returns:
        ``(header without '>', sequence)`` per record, letters unchanged.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    records: list[tuple[str, list[str]]] = []
    with opener(path, "rt") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if line.startswith(">"):
                records.append((line[1:], []))
            elif line:
                records[-1][1].append(line)
    return [(header, "".join(parts)) for header, parts in records]


def write_gzip(path: Path, text: str) -> None:
    """Write text gzipped with mtime 0 and no file name, so the bytes are reproducible."""
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(text.encode("ascii"))


def make_rbp_example(rbp24_dir: Path, out_dir: Path) -> None:
    """Sample the PUM2 subsets from the RBP24 files.

    Args:
        rbp24_dir: Folder with the ``PARCLIP_PUM2.*.fa.gz`` files.
        out_dir: Where the ``pum2.*.fa.gz`` files are written.
    """
    for out_name, source_name, n, seed in RBP_SUBSETS:
        records = read_fasta(rbp24_dir / source_name)
        chosen = np.random.default_rng(seed).choice(len(records), size=n, replace=False)
        # Keep the source order so that the subset reads like the original file.
        text = "".join(f">{records[i][0]}\n{records[i][1]}\n" for i in sorted(chosen.tolist()))
        write_gzip(out_dir / out_name, text)


def _random_chromosome(rng: np.random.Generator, name: str, length: int) -> np.ndarray:
    """Random bases (as ASCII codes) with blockwise GC and the chromosome's N stretches."""
    bases = np.frombuffer(b"ACGT", dtype=np.uint8)
    chunks = []
    for block_start in range(0, length, GC_BLOCK):
        size = min(GC_BLOCK, length - block_start)
        gc = rng.uniform(*GC_RANGE)
        p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
        chunks.append(bases[rng.choice(4, size=size, p=p)])
    sequence = np.concatenate(chunks)
    for start, end in N_STRETCHES.get(name, []):
        sequence[start:end] = ord("N")
    return sequence


def _scrub_motif(rng: np.random.Generator, sequence: np.ndarray, planted: set[int]) -> np.ndarray:
    """Mutate chance motif occurrences (either strand) until only the planted ones remain.

    Args:
        rng: Source of randomness for the replacement bases.
        sequence: ASCII codes of one chromosome; modified in place.
        planted: Start positions of the planted motifs, whose bases are never changed.

    Returns:
        ``sequence``.
    """
    protected = np.zeros(len(sequence), dtype=bool)
    for start in planted:
        protected[start : start + len(MOTIF)] = True
    pattern = re.compile(f"(?=({MOTIF}|{reverse_complement(MOTIF)}))")
    while True:
        text = sequence.tobytes().decode("ascii")
        # A hit that only overlaps a planted motif (e.g. its reverse complement
        # straddling the motif's end) is a chance one and must go too.
        hits = [m.start() for m in pattern.finditer(text) if m.start() not in planted]
        if not hits:
            return sequence
        for start in hits:
            free = [i for i in range(start, start + len(MOTIF)) if not protected[i]]
            i = free[len(free) // 2]
            options = [b for b in b"ACGT" if b != sequence[i]]
            sequence[i] = options[int(rng.integers(len(options)))]


def _slot_centres(name: str, length: int) -> list[int]:
    """Slot centres of a chromosome that keep clear of its ends and N stretches."""
    centres = []
    for k in range(length // SLOT):
        centre = k * SLOT + SLOT // 2
        if centre < END_MARGIN or centre > length - END_MARGIN:
            continue
        if any(s - GAP_MARGIN < centre < e + GAP_MARGIN for s, e in N_STRETCHES.get(name, [])):
            continue
        centres.append(centre)
    return centres


def _interval(rng: np.random.Generator, centre: int) -> tuple[int, int]:
    """A random-length interval whose centre ``(start + end) // 2`` is ``centre``."""
    size = int(rng.integers(SITE_LENGTH[0], SITE_LENGTH[1] + 1))
    start = centre - size // 2
    return start, start + size


def make_bed_example(out_dir: Path) -> None:
    """Write the synthetic genome (BGZF FASTA), ``bound.bed``, ``unbound.bed`` and
    ``conservation.bw``.

    Args:
        out_dir: Where the four files are written.
    """
    rng = np.random.default_rng(GENOME_SEED)
    chroms = {name: _random_chromosome(rng, name, n) for name, n in CHROM_LENGTHS.items()}

    # Sites: (chrom, start, end, strand, bound).
    sites: list[tuple[str, int, int, str, bool]] = []
    for chrom, start, end, strand, bound in SPECIAL_SITES:
        length = CHROM_LENGTHS[chrom]
        start = start if start >= 0 else length + start
        end = end if end > 0 else length + end
        sites.append((chrom, start, end, strand, bound))
    n_special_bound = sum(s[4] for s in sites)
    slots = [(c, centre) for c in chroms for centre in _slot_centres(c, CHROM_LENGTHS[c])]
    picked = rng.choice(len(slots), size=N_BOUND + N_UNBOUND - len(sites), replace=False)
    for rank, slot_index in enumerate(picked.tolist()):
        chrom, centre = slots[slot_index]
        centre += int(rng.integers(-SLOT_JITTER, SLOT_JITTER + 1))
        start, end = _interval(rng, centre)
        strand = "+" if rng.random() < 0.5 else "-"
        sites.append((chrom, start, end, strand, rank < N_BOUND - n_special_bound))

    planted: dict[str, set[int]] = {name: set() for name in chroms}
    for chrom, start, end, strand, bound in sites:
        if not bound:
            continue
        # The motif reads 5'->3' on the site's strand: on '-' the + strand carries its
        # reverse complement, which reverse-complementing the window turns back.
        centre = (start + end) // 2
        oriented = MOTIF if strand == "+" else reverse_complement(MOTIF)
        chroms[chrom][centre - 4 : centre + 4] = np.frombuffer(oriented.encode(), dtype=np.uint8)
        planted[chrom].add(centre - 4)
    for name, seq in chroms.items():
        _scrub_motif(rng, seq, planted[name])

    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "genome.fa"
        with open(plain, "w") as handle:
            for name, seq in chroms.items():
                text = seq.tobytes().decode("ascii")
                handle.write(f">{name}\n")
                handle.writelines(text[i : i + 60] + "\n" for i in range(0, len(text), 60))
        pysam.tabix_compress(str(plain), str(out_dir / "genome.fa.gz"), force=True)

    make_conservation_track(out_dir / "conservation.bw", chroms, planted)

    order = {name: i for i, name in enumerate(CHROM_LENGTHS)}
    sites.sort(key=lambda s: (order[s[0]], s[1]))
    for label, bound, header in [
        (
            "bound",
            True,
            f'track name=bound description="Synthetic PUM2-like sites: {MOTIF} at the centre"\n'
            f"# gennie example, made by scripts/make_example_data.py (seed {GENOME_SEED}); "
            "BED6, 0-based half-open\n",
        ),
        ("unbound", False, ""),
    ]:
        lines = [header]
        chosen = [s for s in sites if s[4] == bound]
        for k, (chrom, start, end, strand, _) in enumerate(chosen, start=1):
            score = int(rng.integers(0, 1001))
            lines.append(f"{chrom}\t{start}\t{end}\t{label}_{k:03d}\t{score}\t{strand}\n")
        (out_dir / f"{label}.bed").write_text("".join(lines))


def make_conservation_track(
    path: Path, chroms: dict[str, np.ndarray], planted: dict[str, set[int]]
) -> None:
    """Write a phyloP-like conservation bigWig for the synthetic genome.

    Background scores are N(0, 0.5) rounded to 0.1, constant over blocks of
    ``BACKGROUND_BLOCK`` bases; the motif bases of ``CONSERVED_SHARE`` of the planted
    sites and of ``N_DECOYS`` random 8-bp elements score 2.5–4.0 per base; N stretches
    have no values (missing).

    Args:
        path: The bigWig file to write.
        chroms: ASCII codes of each chromosome (N stretches are left without values).
        planted: Start of every planted motif, per chromosome.
    """
    import pyBigWig

    rng = np.random.default_rng(CONSERVATION_SEED)
    header = [(name, len(seq)) for name, seq in chroms.items()]
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader(header, maxZooms=0)
    for name, seq in chroms.items():
        blocks = -(-len(seq) // BACKGROUND_BLOCK)
        scores = np.repeat(np.round(rng.normal(0.0, 0.5, size=blocks), 1), BACKGROUND_BLOCK)
        scores = scores[: len(seq)].astype(np.float32)
        conserved = [start for start in sorted(planted[name]) if rng.random() < CONSERVED_SHARE]
        share = len(seq) / sum(len(c) for c in chroms.values())
        decoys = rng.integers(0, len(seq) - len(MOTIF), size=round(N_DECOYS * share))
        for start in [*conserved, *decoys.tolist()]:
            scores[start : start + len(MOTIF)] = np.round(rng.uniform(2.5, 4.0, len(MOTIF)), 1)
        known = seq != ord("N")
        # One entry per run of equal scores (bedGraph-like), none where the genome is N.
        change = np.flatnonzero((np.diff(scores) != 0) | (np.diff(known.astype(np.int8)) != 0)) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [len(seq)]])
        keep = known[starts]
        bw.addEntries(
            [name] * int(keep.sum()),
            starts[keep].tolist(),
            ends=ends[keep].tolist(),
            values=scores[starts[keep]].astype(float).tolist(),
        )
    bw.close()


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and regenerate both examples.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rbp24-dir",
        type=Path,
        default=DEFAULT_RBP24_DIR,
        help="folder with PARCLIP_PUM2.*.fa.gz; relative paths are taken from the "
        "repository root (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT_DIR,
        help="output folder; relative to the repository root (default: %(default)s)",
    )
    parser.add_argument(
        "--skip-rbp", action="store_true", help="only regenerate the synthetic genome example"
    )
    args = parser.parse_args(argv)
    out_dir = REPO_ROOT / args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    if not args.skip_rbp:
        make_rbp_example(REPO_ROOT / args.rbp24_dir, out_dir)
    make_bed_example(out_dir)
    for path in sorted(out_dir.iterdir()):
        print(f"{path.stat().st_size:>9,d}  {path}")


if __name__ == "__main__":
    main()
