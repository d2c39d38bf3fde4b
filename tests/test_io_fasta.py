"""Tests for gennie.io.fasta: FASTA records, counting, sequence lists and indexed genomes."""

from __future__ import annotations

import gzip
import pickle
import subprocess
import sys
from pathlib import Path

import pysam
import pytest

import gennie.io.fasta as fasta_module
from gennie.errors import UserError
from gennie.io.fasta import FastaRecord, Genome, count_fasta, read_fasta, sequence_lines

# Two records over several lines, an empty record, lower case and a description.
MULTI = ">r1 first record\nACGT\nacgt\n\n>r2\nNNNN\n>r3\n>r4 x y\nTT\nG\n"
RECORDS = [
    FastaRecord(1, "r1 first record", "ACGTacgt"),
    FastaRecord(2, "r2", "NNNN"),
    FastaRecord(3, "r3", ""),
    FastaRecord(4, "r4 x y", "TTG"),
]

# A genome: chr1 of 14 bases over two lines (lower case in it), a 4-base sequence "2".
GENOME = ">chr1 assembled\nACGTacgtNN\nGGCC\n>2\nTTTT\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def error_of(call) -> dict:
    """The ``to_dict()`` of the UserError that ``call()`` raises."""
    with pytest.raises(UserError) as err:
        call()
    return err.value.to_dict()


# --------------------------------------------------------------------------- read_fasta


def test_multi_line_records_are_joined_and_numbered(tmp_path):
    assert list(read_fasta(write(tmp_path / "multi.fa", MULTI))) == RECORDS


def test_gzipped_fasta(tmp_path):
    packed = tmp_path / "multi.fa.gz"
    packed.write_bytes(gzip.compress(MULTI.encode()))
    assert list(read_fasta(packed)) == RECORDS


def test_windows_line_endings(tmp_path):
    path = tmp_path / "crlf.fa"
    path.write_bytes(b">r1 a\r\nACGT\r\nAC\r\n>r2\r\nGG\r\n")
    assert list(read_fasta(path)) == [FastaRecord(1, "r1 a", "ACGTAC"), FastaRecord(2, "r2", "GG")]


def test_records_are_read_lazily(tmp_path):
    records = read_fasta(write(tmp_path / "multi.fa", MULTI))
    assert next(records) == RECORDS[0]
    assert next(records) == RECORDS[1]


@pytest.mark.parametrize(
    "text", ["", "ACGT\nACGT\n", "chr1\t1\t2\n"], ids=["empty", "no-headers", "bed"]
)
def test_a_file_without_records(tmp_path, text):
    path = write(tmp_path / "none.fa", text)
    assert error_of(lambda: list(read_fasta(path, field="classes.a"))) == {
        "error": "no FASTA records in the file",
        "file": str(path),
        "line": None,
        "record": None,
        "field": "classes.a",
        "hint": "records start with a '>' header line",
    }


def test_fastq_is_refused(tmp_path):
    path = write(tmp_path / "reads.fq", "@r1\nACGT\n+\nIIII\n")
    assert error_of(lambda: list(read_fasta(path))) == {
        "error": "this is a FASTQ file, not FASTA",
        "file": str(path),
        "line": 1,
        "record": None,
        "field": "classes",
        "hint": None,
    }


def test_a_missing_file(tmp_path):
    path = tmp_path / "missing.fa"
    assert error_of(lambda: list(read_fasta(path, field="input"))) == {
        "error": "file not found",
        "file": str(path),
        "line": None,
        "record": None,
        "field": "input",
        "hint": "check the path (relative paths are taken from the working folder)",
    }


def test_a_folder_is_a_user_error_not_a_crash(tmp_path):
    script = (
        "import sys\n"
        "from gennie.errors import UserError\n"
        "from gennie.io.fasta import read_fasta\n"
        "try:\n"
        "    list(read_fasta(sys.argv[1]))\n"
        "except UserError as exc:\n"
        "    print(exc.to_dict()['field'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (0, "classes\n")


# --------------------------------------------------------------------------- counting


def test_count_fasta_counts_header_lines(tmp_path):
    assert count_fasta(write(tmp_path / "multi.fa", MULTI)) == 4
    packed = tmp_path / "multi.fa.gz"
    packed.write_bytes(gzip.compress(MULTI.encode()))
    assert count_fasta(packed) == 4


def test_count_fasta_uses_the_index_when_there_is_one(tmp_path):
    path = write(tmp_path / "indexed.fa", MULTI)
    # A (deliberately different) index: its lines are what is counted.
    write(tmp_path / "indexed.fa.fai", "a\t1\t3\t1\t2\nb\t1\t8\t1\t2\n\n")
    assert count_fasta(path) == 2


def test_sequence_lines_skip_empty_and_comment_lines(tmp_path):
    path = write(tmp_path / "seqs.txt", "# header\nACGT\n\n  ttga  \n#ACGT\nNNNN\n")
    assert list(sequence_lines(path)) == ["ACGT", "ttga", "NNNN"]
    packed = tmp_path / "seqs.txt.gz"
    packed.write_bytes(gzip.compress(b"ACGT\r\n\r\nGG\r\n"))
    assert list(sequence_lines(packed)) == ["ACGT", "GG"]


# --------------------------------------------------------------------------- Genome


def test_plain_genome_is_indexed_next_to_the_file(tmp_path):
    path = write(tmp_path / "genome.fa", GENOME)
    with Genome(path) as genome:
        assert genome.chrom_lengths == {"chr1": 14, "2": 4}
        assert list(genome.chrom_lengths) == ["chr1", "2"]
        assert genome.field == "genome"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["genome.fa", "genome.fa.fai"]
    assert (tmp_path / "genome.fa.fai").read_text() == "chr1\t14\t16\t10\t11\n2\t4\t35\t4\t5\n"


def test_fetch_is_0_based_half_open_in_upper_case_across_lines(tmp_path):
    with Genome(write(tmp_path / "genome.fa", GENOME)) as genome:
        assert genome.fetch("chr1", 0, 4) == "ACGT"
        assert genome.fetch("chr1", 2, 12) == "GTACGTNNGG"
        assert genome.fetch("chr1", 10, 14) == "GGCC"
        assert genome.fetch("2", 1, 3) == "TT"
        assert genome.fetch("chr1", 5, 5) == ""
        # Past the end: what exists (callers fit windows inside chromosomes first).
        assert genome.fetch("chr1", 12, 20) == "CC"


def test_bgzipped_genome_gets_fai_and_gzi_indexes(tmp_path):
    plain = write(tmp_path / "plain.fa", GENOME)
    packed = tmp_path / "genome.fa.gz"
    pysam.tabix_compress(str(plain), str(packed))
    with Genome(packed) as genome:
        assert genome.chrom_lengths == {"chr1": 14, "2": 4}
        assert genome.fetch("chr1", 2, 12) == "GTACGTNNGG"
        assert genome.fetch("2", 0, 4) == "TTTT"
    assert (tmp_path / "genome.fa.gz.fai").is_file()
    assert (tmp_path / "genome.fa.gz.gzi").is_file()


def test_plain_gzip_genome_asks_for_bgzip(tmp_path):
    packed = tmp_path / "genome.fa.gz"
    packed.write_bytes(gzip.compress(GENOME.encode()))
    assert error_of(lambda: Genome(packed)) == {
        "error": "cannot index the genome FASTA: it is gzip-compressed, not bgzip-compressed",
        "file": str(packed),
        "line": None,
        "record": None,
        "field": "genome",
        "hint": "gzip-compressed FASTA must be bgzip-compressed for random access: "
        "run 'gunzip genome.fa.gz && bgzip genome.fa'",
    }


def test_a_file_that_is_not_fasta(tmp_path):
    path = write(tmp_path / "peaks.fa", "chr1\t1\t2\n")
    assert error_of(lambda: Genome(path, field="negatives")) == {
        "error": f"cannot index the genome FASTA (error when opening file `{path}`)",
        "file": str(path),
        "line": None,
        "record": None,
        "field": "negatives",
        "hint": "check that this is a FASTA file",
    }


@pytest.mark.parametrize(
    ("name", "message", "hint"),
    [
        (
            "absent.fa",
            "genome FASTA not found",
            "check the path (relative paths are taken from the working folder)",
        ),
        (".", "this is a folder, not a genome FASTA", None),
    ],
    ids=["missing", "folder"],
)
def test_a_missing_genome(tmp_path, name, message, hint):
    path = tmp_path / name
    assert error_of(lambda: Genome(path)) == {
        "error": message,
        "file": str(path),
        "line": None,
        "record": None,
        "field": "genome",
        "hint": hint,
    }


def test_no_index_in_a_read_only_folder(tmp_path, monkeypatch):
    path = write(tmp_path / "genome.fa", GENOME)
    monkeypatch.setattr(fasta_module.os, "access", lambda *_: False)
    assert error_of(lambda: Genome(path)) == {
        "error": "the genome has no index (.fai) and its folder is not writable",
        "file": str(path),
        "line": None,
        "record": None,
        "field": "genome",
        "hint": "run 'samtools faidx genome.fa' where you can write, or copy it",
    }
    assert not (tmp_path / "genome.fa.fai").exists()


def test_an_existing_index_needs_no_writable_folder(tmp_path, monkeypatch):
    path = write(tmp_path / "genome.fa", GENOME)
    Genome(path).close()
    monkeypatch.setattr(fasta_module.os, "access", lambda *_: False)
    with Genome(path) as genome:
        assert genome.fetch("2", 0, 2) == "TT"


def test_a_genome_survives_pickling(tmp_path):
    # Worker processes receive the genome pickled; the copy reopens the file.
    with Genome(write(tmp_path / "genome.fa", GENOME), field="genome2") as genome:
        copy = pickle.loads(pickle.dumps(genome))
    assert copy.path == tmp_path / "genome.fa" and copy.field == "genome2"
    assert copy.chrom_lengths == {"chr1": 14, "2": 4}
    assert copy.fetch("chr1", 8, 12) == "NNGG"
    copy.close()


# --------------------------------------------------------------------------- check_chromosome


@pytest.fixture
def six(tmp_path: Path) -> Genome:
    """A genome of six sequences: chr1..chr5 and 7 (an Ensembl-style name)."""
    names = ["chr1", "chr2", "chr3", "chr4", "chr5", "7"]
    text = "".join(f">{n}\n{'ACGT' * (i + 1)}\n" for i, n in enumerate(names))
    genome = Genome(write(tmp_path / "six.fa", text))
    yield genome
    genome.close()


def test_check_chromosome_gives_the_length(six, tmp_path):
    assert six.check_chromosome("chr3", file=tmp_path / "a.bed", line=1, field="x") == 12
    assert six.check_chromosome("7", file=tmp_path / "a.bed", line=1, field="x") == 24


@pytest.mark.parametrize(
    ("chrom", "hint"),
    [
        ("chr9", "the genome has 6 sequences, e.g. chr1, chr2, chr3, chr4, chr5"),
        ("chr7", "the genome names it '7' (without 'chr'); rename one of them"),
        ("2", "the genome names it 'chr2'; rename one of them"),
        ("CHR1", "the genome has 6 sequences, e.g. chr1, chr2, chr3, chr4, chr5"),
    ],
    ids=["unknown", "extra-chr", "missing-chr", "case"],
)
def test_check_chromosome_names_the_line_and_suggests_a_name(six, tmp_path, chrom, hint):
    bed = tmp_path / "chroms.bed"
    error = error_of(lambda: six.check_chromosome(chrom, file=bed, line=4, field="classes.a"))
    assert error == {
        "error": f"chromosome '{chrom}' is not in the genome six.fa",
        "file": str(bed),
        "line": 4,
        "record": None,
        "field": "classes.a",
        "hint": hint,
    }


# --------------------------------------------------------------------------- hostile


def test_records_know_the_line_of_their_header(tmp_path):
    records = list(read_fasta(write(tmp_path / "multi.fa", MULTI)))
    assert [r.line for r in records] == [1, 5, 7, 8]


def test_text_before_the_first_header_belongs_to_no_record(tmp_path):
    path = write(tmp_path / "stray.fa", "\nACGT\n>r1\nACGT\n")
    assert error_of(lambda: list(read_fasta(path, field="input"))) == {
        "error": "text before the first '>' header line belongs to no record",
        "file": str(path),
        "line": 2,
        "record": None,
        "field": "input",
        "hint": "remove it, or put a '>' header line above it",
    }


def test_a_nul_byte_in_a_sequence_is_not_cut_off_silently(tmp_path):
    path = tmp_path / "nul.fa"
    path.write_bytes(b">r1\nACGT\n>r2\nAC\x00GT\n")
    error = error_of(lambda: list(read_fasta(path)))
    assert (error["error"], error["line"]) == (
        "the file looks binary, not text: byte \\x00 in this line",
        4,
    )


@pytest.mark.parametrize(
    ("data", "message", "line"),
    [
        (b">chr\xe91\nACGT\n", "not UTF-8 text: byte \\xe9 in '>chr\\xe91'", 1),
        (b">chr1\nAC\x00GT\n", "the file looks binary, not text: byte \\x00 in this line", 2),
    ],
    ids=["latin1-header", "nul-in-sequence"],
)
def test_a_genome_that_is_not_text(tmp_path, data, message, line):
    path = tmp_path / "genome.fa"
    path.write_bytes(data)
    error = error_of(lambda: Genome(path))
    assert (error["error"], error["line"], error["field"]) == (message, line, "genome")
    assert not (tmp_path / "genome.fa.fai").exists()


def test_an_empty_genome(tmp_path):
    path = write(tmp_path / "empty.fa", "")
    assert error_of(lambda: Genome(path))["error"] == "the genome FASTA is empty"


def test_a_genome_index_that_promises_more_than_the_file_holds(tmp_path):
    path = write(tmp_path / "genome.fa", GENOME)
    write(tmp_path / "genome.fa.fai", "chr1\t4000\t6\t10\t11\n")
    with Genome(path) as genome:
        error = error_of(lambda: genome.fetch("chr1", 3000, 3010))
    assert error == {
        "error": "cannot read chr1:3000-3010 from the genome (failure when retrieving sequence "
        "on 'chr1')",
        "file": str(path),
        "line": None,
        "record": None,
        "field": "genome",
        "hint": "the genome or its index (.fai/.gzi) is damaged or out of date: delete the "
        "index files to rebuild them",
    }
