"""Tests for gennie.example: the bundled example files are present and as documented."""

from __future__ import annotations

import gzip
import importlib.util
import re
import shutil
from pathlib import Path

import pysam
import pytest

from gennie.example import EXAMPLE_DIR, MOTIF, bed_example, rbp_example

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROM_LENGTHS = {"chr1": 60_000, "chr2": 50_000, "chr3": 40_000, "chrM": 300}
HEADER = re.compile(r"^>[^;\s]+;chr[^,\s]+,\d+,\d+,[+-]$")  # chr7_gl000195_random too
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def reverse_complement(sequence: str) -> str:
    """Reverse complement of an upper-case DNA sequence."""
    return sequence.translate(_COMPLEMENT)[::-1]


def read_bed(path: Path) -> list[tuple[str, int, int, str, int, str]]:
    """BED6 records, skipping track, browser and comment lines."""
    records = []
    for line in path.read_text().splitlines():
        if not line or line.startswith(("track", "browser", "#")):
            continue
        chrom, start, end, name, score, strand = line.split("\t")
        records.append((chrom, int(start), int(end), name, int(score), strand))
    return records


def centred_window(chrom_length: int, start: int, end: int, size: int) -> tuple[int, int]:
    """A size-bp window centred on (start + end) // 2, shifted to lie inside the chromosome."""
    left = (start + end) // 2 - size // 2
    left = min(max(left, 0), chrom_length - size)
    return left, left + size


@pytest.fixture(scope="module")
def genome(tmp_path_factory: pytest.TempPathFactory) -> pysam.FastaFile:
    """The example genome, opened from a copy so no index is written into the package."""
    copy = tmp_path_factory.mktemp("genome") / "genome.fa.gz"
    shutil.copy(bed_example()["genome"], copy)
    with pysam.FastaFile(str(copy)) as fasta:
        yield fasta


def test_all_documented_files_exist_and_stay_small():
    paths = [p for split in rbp_example().values() for p in split.values()]
    bed = bed_example()
    paths += [
        bed["genome"],
        *bed["classes"].values(),
        bed["conservation"],
        EXAMPLE_DIR / "README.md",
    ]
    assert all(p.parent == EXAMPLE_DIR and p.is_file() for p in paths)
    assert sorted(p.name for p in EXAMPLE_DIR.iterdir()) == sorted(p.name for p in paths)
    assert sum(p.stat().st_size for p in paths) < 3_000_000
    assert bed["motif"] == MOTIF == "TGTAAATA"


@pytest.mark.parametrize(
    ("split", "label", "count"),
    [
        ("train", "positive", 1500),
        ("train", "negative", 1500),
        ("test", "positive", 250),
        ("test", "negative", 250),
    ],
)
def test_rbp_example_counts_and_format(split, label, count):
    path = rbp_example()[split][label]
    raw = path.read_bytes()
    assert raw[4:8] == b"\0\0\0\0"  # gzip mtime 0: reproducible bytes
    lines = gzip.decompress(raw).decode("ascii").splitlines()
    headers, sequences = lines[0::2], lines[1::2]
    assert len(headers) == len(sequences) == count
    assert all(HEADER.match(h) for h in headers)
    assert len(set(headers)) == count
    for sequence in sequences:
        # Site in upper case flanked by lower case, as in RBP24 (a flank can be
        # missing where the source ran out of sequence).
        assert re.fullmatch(r"[acgtun]*[ACGTUN]+[acgtun]*", sequence)


def test_rbp_train_and_test_share_no_record():
    def headers(path: Path) -> set[str]:
        return {line for line in gzip.open(path, "rt") if line.startswith(">")}

    example = rbp_example()
    train = headers(example["train"]["positive"]) | headers(example["train"]["negative"])
    test = headers(example["test"]["positive"]) | headers(example["test"]["negative"])
    assert not train & test


def test_genome_opens_with_expected_chromosomes(genome):
    assert dict(zip(genome.references, genome.lengths, strict=True)) == CHROM_LENGTHS
    chr2 = genome.fetch("chr2")
    assert chr2[:500] == "N" * 500
    assert set(chr2[500:30_000]) == set("ACGT")
    total = "".join(genome.fetch(c) for c in CHROM_LENGTHS)
    assert total.count("N") == 500 + 300 + 500 + 800 + 400
    gc = (total.count("G") + total.count("C")) / (len(total) - total.count("N"))
    assert 0.37 < gc < 0.43


def test_bound_intervals_carry_the_motif_in_their_orientation(genome):
    records = read_bed(bed_example()["classes"]["bound"])
    assert len(records) == 300
    assert {r[5] for r in records} == {"+", "-"}
    assert len({r[3] for r in records}) == 300
    assert all(
        20 <= end - start <= 80 and 0 <= score <= 1000 for _, start, end, _, score, _ in records
    )
    for chrom, start, end, _, _, strand in records:
        left, right = centred_window(CHROM_LENGTHS[chrom], start, end, 100)
        window = genome.fetch(chrom, left, right)
        if strand == "-":
            window = reverse_complement(window)
        assert MOTIF in window, (chrom, start, end, strand)
        assert reverse_complement(MOTIF) not in window, (chrom, start, end, strand)


def test_bound_file_has_header_lines_and_edge_cases():
    path = bed_example()["classes"]["bound"]
    first, second = path.read_text().splitlines()[:2]
    assert first.startswith("track ")
    assert second.startswith("#")
    records = read_bed(path)
    near_start = [r for r in records if r[1] < 50]
    near_end = [r for r in records if r[2] > CHROM_LENGTHS[r[0]] - 50]
    assert len(near_start) == 2 and len(near_end) == 2
    assert [r[:3] for r in records if r[0] == "chrM"] == [("chrM", 140, 170)]


def test_unbound_intervals_lack_the_motif(genome):
    records = read_bed(bed_example()["classes"]["unbound"])
    assert len(records) == 300
    assert {r[5] for r in records} == {"+", "-"}
    bound = read_bed(bed_example()["classes"]["bound"])
    for chrom, start, end, _, _, _ in records:
        assert 20 <= end - start <= 80
        # Wider than the 100 bp the bound test uses: the documented safe window.
        left, right = centred_window(CHROM_LENGTHS[chrom], start, end, 390)
        window = genome.fetch(chrom, left, right)
        assert MOTIF not in window and reverse_complement(MOTIF) not in window
        assert "N" not in window
        assert all(c != chrom or e <= start or s >= end for c, s, e, *_ in bound)


def test_generator_script_reproduces_the_bed_example(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "make_example_data", REPO_ROOT / "scripts" / "make_example_data.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.make_bed_example(tmp_path)
    for name in ["genome.fa.gz", "bound.bed", "unbound.bed", "conservation.bw"]:
        assert (tmp_path / name).read_bytes() == (EXAMPLE_DIR / name).read_bytes(), name


def test_conservation_track_conserves_most_planted_sites():
    import numpy as np
    import pyBigWig

    bw = pyBigWig.open(str(bed_example()["conservation"]))
    try:
        assert bw.chroms() == CHROM_LENGTHS
        sites = read_bed(bed_example()["classes"]["bound"])
        motif_means = [
            float(np.mean(bw.values(c, (s + e) // 2 - 4, (s + e) // 2 + 4)))
            for c, s, e, *_ in sites
        ]
        conserved = sum(m >= 2.5 for m in motif_means)
        assert 0.8 * len(sites) <= conserved < len(sites)  # most, not all
        background = bw.values("chr1", 1000, 1100, numpy=True)
        assert abs(float(np.mean(background))) < 0.5
        assert np.isnan(bw.values("chr2", 0, 500, numpy=True)).all()  # N stretch: missing
    finally:
        bw.close()
