"""The preprocess stage as a library call, on tiny hand-made inputs with exact results."""

import gzip
import json
import shutil

import pandas as pd
import pytest

from gennie.config import PreprocessConfig
from gennie.dataset.store import Dataset
from gennie.encode.alphabet import base_codes, decode
from gennie.errors import UserError
from gennie.preprocessing.stage import check, check_config, preprocess

CHR1 = ("ACGTTGCA" * 25)[:200]  # 200 bp
CHR2 = "".join("ACGT"[(i * 7 + i // 3) % 4] for i in range(120))
CHRM = "ACGTACGTAC"  # shorter than any window used here


@pytest.fixture()
def genome(tmp_path):
    path = tmp_path / "genome.fa"
    path.write_text(f">chr1\n{CHR1[:100]}\n{CHR1[100:]}\n>chr2\n{CHR2}\n>chrM\n{CHRM}\n")
    return path


def _bed(path, rows, header=True):
    text = "track name=test\n# a comment\n" if header else ""
    text += "".join("\t".join(map(str, r)) + "\n" for r in rows)
    path.write_text(text)
    return path


def _fasta(path, records, compress=False):
    text = "".join(
        f">{name}\n{seq[:30]}\n{seq[30:]}\n" if len(seq) > 30 else f">{name}\n{seq}\n"
        for name, seq in records
    )
    if compress:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def _rows(n, chrom="chr1", start=50, strand="+"):
    return [(chrom, start + i, start + i + 10, f"r{i}", 0, strand) for i in range(n)]


def _config(tmp_path, **kw):
    defaults = {"out": tmp_path / "out", "ratio": "1:1:1", "window": 20}
    return PreprocessConfig(**{**defaults, **kw})


def test_bed_windows_exact_with_strand_and_ends(tmp_path, genome):
    a = _bed(
        tmp_path / "a.bed",
        [
            ("chr1", 50, 60, "plus", 0, "+"),  # centred window 45..65
            ("chr1", 50, 60, "minus", 0, "-"),  # same window, reverse-complemented
            ("chr1", 0, 4, "left", 0, "+"),  # window -8..12 shifted to 0..20
            ("chr2", 115, 120, "right", 0, "+"),  # window 107..127 shifted to 100..120
            ("chrM", 2, 6, "short", 0, "+"),  # chrM is shorter than the window: dropped
        ],
    )
    b = _bed(tmp_path / "b.bed", _rows(6, "chr2", 10), header=False)
    result = preprocess(_config(tmp_path, classes={"a": a, "b": b}, genome=genome))
    ds = Dataset(result.run_dir)
    samples = ds.samples()
    rows_a = samples[samples["class"] == "a"].set_index("name")
    assert rows_a.loc["plus", ["start", "end"]].tolist() == [45, 65]
    assert rows_a.loc["left", ["start", "end", "shifted"]].tolist() == [0, 20, 1]
    assert rows_a.loc["right", ["start", "end", "shifted"]].tolist() == [100, 120, 1]
    assert "short" not in rows_a.index
    codes = ds.array("seq")
    assert decode(codes[rows_a.loc["plus", "index"]]) == CHR1[45:65]
    minus = decode(codes[rows_a.loc["minus", "index"]])
    assert minus == _revcomp(CHR1[45:65])
    counts = ds.metadata.counts["a"]
    assert counts.records == 5
    assert counts.dropped_short_chromosome == 1
    assert counts.shifted_at_chromosome_end == 2
    assert ds.metadata.classes == ["a", "b"]
    assert ds.labels.tolist() == [0] * 4 + [1] * 6


def test_intervals_past_the_chromosome_end_are_dropped_and_counted(tmp_path, genome, caplog):
    # chr1 has 200 bases: [200, 210) and [500, 520) lie wholly past its end; [195, 205)
    # crosses it and is shifted inside; [200, 200) is empty at the very end (kept).
    a = _bed(
        tmp_path / "a.bed",
        [
            *_rows(3),
            ("chr1", 200, 210, "after", 0, "+"),
            ("chr1", 500, 520, "far", 0, "+"),
            ("chr1", 195, 205, "across", 0, "+"),
            ("chr1", 200, 200, "at_end", 0, "+"),
        ],
    )
    b = _bed(tmp_path / "b.bed", _rows(6, "chr2", 10), header=False)
    result = preprocess(_config(tmp_path, classes={"a": a, "b": b}, genome=genome))
    ds = Dataset(result.run_dir)
    rows_a = ds.samples().query("`class` == 'a'").set_index("name")
    assert sorted(rows_a.index) == ["across", "at_end", "r0", "r1", "r2"]
    assert rows_a.loc["across", ["start", "end", "shifted"]].tolist() == [180, 200, 1]
    counts = ds.metadata.counts["a"]
    assert (counts.records, counts.dropped_short_chromosome) == (7, 0)
    assert counts.model_extra["dropped_past_chromosome_end"] == 2
    assert counts.shifted_at_chromosome_end == 2
    assert (
        "a.bed: 2 intervals dropped: they lie past the end of their chromosome (e.g. line 6: "
        "chr1:200-210, the chromosome has 200 bases)"
    ) in caplog.text


def test_every_interval_past_the_chromosome_end_is_an_error(tmp_path, genome):
    a = _bed(tmp_path / "a.bed", [("chr1", 300, 310, "x", 0, "+"), ("chr2", 120, 130, "y", 0, "+")])
    b = _bed(tmp_path / "b.bed", _rows(3))
    with pytest.raises(UserError) as err:
        preprocess(_config(tmp_path, classes={"a": a, "b": b}, genome=genome))
    assert err.value.to_dict() == {
        "error": "no usable intervals: 2 lie past the end of their chromosome (e.g. line 3: "
        "chr1:300-310, the chromosome has 200 bases)",
        "file": str(a),
        "line": 3,
        "record": None,
        "field": "classes.a",
        "hint": "check that the BED file and the genome are of the same assembly",
    }
    assert not any(p.name.startswith("preprocess_") for p in (tmp_path / "out").iterdir())


def _revcomp(seq):
    return seq.translate(str.maketrans("ACGT", "TGCA"))[::-1]


def test_no_strand_keeps_plus_orientation(tmp_path, genome):
    a = _bed(tmp_path / "a.bed", _rows(3, strand="-"))
    b = _bed(tmp_path / "b.bed", _rows(3, "chr2"))
    ds = Dataset(
        preprocess(_config(tmp_path, classes={"a": a, "b": b}, genome=genome, strand=False)).run_dir
    )
    assert decode(ds.array("seq")[0]) == CHR1[45:65]


def test_fasta_cut_pad_and_gzip(tmp_path):
    pos = _fasta(
        tmp_path / "pos.fa.gz",
        [("p1", "A" * 10 + "C" * 20 + "G" * 10), ("p2", "ACGU"), ("p3", "ACGTN" * 8)],
        compress=True,
    )
    neg = _fasta(tmp_path / "neg.fa", [(f"n{i}", "T" * 25) for i in range(3)])
    ds = Dataset(preprocess(_config(tmp_path, classes={"pos": pos, "neg": neg})).run_dir)
    codes = ds.array("seq")
    assert decode(codes[0]) == "C" * 20  # 40 bp centred cut to 20
    assert decode(codes[1]) == "N" * 8 + "ACGT" + "N" * 8  # padded on both sides
    counts = ds.metadata.counts["pos"]
    assert counts.padded == 1 and counts.model_extra == {"padded_bases": 16}
    assert ds.samples()["name"].tolist()[:3] == ["p1", "p2", "p3"]


def test_fasta_invalid_letter_names_record(tmp_path):
    pos = _fasta(tmp_path / "pos.fa", [("ok", "ACGT" * 6), ("bad", "ACGT1ACGT" * 3)])
    neg = _fasta(tmp_path / "neg.fa", [("n", "ACGT" * 6)])
    with pytest.raises(UserError) as err:
        preprocess(_config(tmp_path, classes={"pos": pos, "neg": neg}))
    assert "'bad'" in err.value.message and "'1'" in err.value.message
    assert err.value.record == 2 and err.value.file.endswith("pos.fa")
    assert not any(p.name.startswith("preprocess_") for p in (tmp_path / "out").iterdir())


def test_bed_errors_name_file_and_line(tmp_path, genome):
    good = _bed(tmp_path / "b.bed", _rows(3))
    bad = tmp_path / "bad.bed"
    bad.write_text("chr1\t1\t20\nchr1\t5\n")
    with pytest.raises(UserError) as err:
        preprocess(_config(tmp_path, classes={"a": bad, "b": good}, genome=genome))
    assert err.value.line == 2 and "3 columns" in err.value.message
    unknown = _bed(tmp_path / "u.bed", [("chr1", 1, 20), ("1", 5, 30)], header=False)
    with pytest.raises(UserError) as err:
        preprocess(_config(tmp_path, classes={"a": unknown, "b": good}, genome=genome))
    assert err.value.line == 2 and "'1'" in err.value.message and "chr1" in err.value.hint


def test_window_longer_than_every_chromosome(tmp_path, genome):
    a = _bed(tmp_path / "a.bed", _rows(3))
    with pytest.raises(UserError) as err:
        preprocess(_config(tmp_path, classes={"a": a, "b": a}, genome=genome, window=500))
    assert err.value.field == "window"


def test_split_and_reduction_stratified(tmp_path):
    pos = _fasta(tmp_path / "pos.fa", [(f"p{i}", "ACGT" * 6) for i in range(40)])
    neg = _fasta(tmp_path / "neg.fa", [(f"n{i}", "TTGA" * 6) for i in range(60)])
    ds = Dataset(
        preprocess(
            _config(
                tmp_path, classes={"pos": pos, "neg": neg}, ratio="6:2:1:1", reduce={"neg": 0.5}
            )
        ).run_dir
    )
    samples = ds.samples()
    table = pd.crosstab(samples["class"], samples["split"])
    assert table.loc["pos"].to_dict() == {"train": 24, "validation": 8, "test": 4, "blackbox": 4}
    assert table.loc["neg"].to_dict() == {"train": 18, "validation": 6, "test": 3, "blackbox": 3}


def test_same_seed_same_dataset_other_seed_differs(tmp_path):
    pos = _fasta(tmp_path / "pos.fa", [(f"p{i}", "ACGT" * 6) for i in range(30)])
    neg = _fasta(tmp_path / "neg.fa", [(f"n{i}", "TTGA" * 6) for i in range(30)])
    cfg = _config(tmp_path, classes={"pos": pos, "neg": neg}, reduce={"pos": 20})
    first, second = Dataset(preprocess(cfg).run_dir), Dataset(preprocess(cfg).run_dir)
    assert first.samples().equals(second.samples())
    third = Dataset(preprocess(cfg.model_copy(update={"seed": 7})).run_dir)
    assert not first.samples()["split"].equals(third.samples()["split"])


def test_cache_hit_reads_nothing(tmp_path, genome, monkeypatch):
    a = _bed(tmp_path / "a.bed", _rows(9))
    b = _bed(tmp_path / "b.bed", _rows(9, "chr2"))
    first = Dataset(preprocess(_config(tmp_path, classes={"a": a, "b": b}, genome=genome)).run_dir)

    def no_genome(*args, **kwargs):
        raise AssertionError("the genome was opened on a cache hit")

    monkeypatch.setattr("gennie.dataset.mapping.Genome", no_genome)
    second = preprocess(
        _config(tmp_path, classes={"a": a, "b": b}, genome=genome, ratio="2:1:1", reduce={"a": 6})
    )
    meta = json.loads((second.run_dir / "metadata.json").read_text())
    assert meta["cache"] == {"hits": 2, "misses": 0, "genome_read": False}
    ds = Dataset(second.run_dir)
    assert len(ds) == 15
    old = first.samples()
    keys = zip(old["class"], old["name"], strict=True)
    first_seq = dict(zip(keys, first.array("seq"), strict=True))
    new = ds.samples()
    for cls, name, seq in zip(new["class"], new["name"], ds.array("seq"), strict=False):
        assert (seq == first_seq[(cls, name)]).all()


def test_incomplete_cache_entry_is_rebuilt(tmp_path):
    pos = _fasta(tmp_path / "pos.fa", [(f"p{i}", "ACGT" * 6) for i in range(9)])
    neg = _fasta(tmp_path / "neg.fa", [(f"n{i}", "TTGA" * 6) for i in range(9)])
    preprocess(_config(tmp_path, classes={"pos": pos, "neg": neg}))
    for marker in (tmp_path / "out" / "cache" / "windows").glob("*/complete"):
        marker.unlink()  # as if the run had been killed while writing the cache
    result = preprocess(_config(tmp_path, classes={"pos": pos, "neg": neg}))
    meta = json.loads((result.run_dir / "metadata.json").read_text())
    assert meta["cache"]["misses"] == 2 and len(Dataset(result.run_dir)) == 18


def test_chromosome_split(tmp_path, genome):
    a = _bed(tmp_path / "a.bed", _rows(3) + _rows(3, "chr2"))
    b = _bed(tmp_path / "b.bed", _rows(3, start=100) + _rows(3, "chr2", 60))
    cfg = _config(
        tmp_path,
        classes={"a": a, "b": b},
        genome=genome,
        split="chromosome",
        chromosomes={"train": ["chr1"], "validation": ["chr2"], "test": ["chr2x"]},
    )
    with pytest.raises(UserError, match="no samples in the test split"):
        preprocess(cfg)
    a2 = _bed(tmp_path / "a2.bed", _rows(2) + _rows(2, "chr2") + [("chrM", 1, 5)])
    cfg = cfg.model_copy(
        update={
            "classes": {"a": a2, "b": b},
            "window": 8,
            "chromosomes": {"train": ["chr1"], "validation": ["chr2"], "test": ["chrM"]},
        }
    )
    with pytest.raises(UserError):  # b has nothing on chrM
        preprocess(cfg)


def test_chromosome_split_assigns_by_chromosome(tmp_path, genome):
    rows = _rows(2) + _rows(2, "chr2") + [("chrM", 1, 5, "m", 0, "+")]
    a = _bed(tmp_path / "a.bed", rows)
    b = _bed(tmp_path / "b.bed", rows)
    ds = Dataset(
        preprocess(
            _config(
                tmp_path,
                classes={"a": a, "b": b},
                genome=genome,
                window=8,
                split="chromosome",
                chromosomes={"train": ["chr1"], "validation": ["chr2"], "test": ["chrM"]},
            )
        ).run_dir
    )
    samples = ds.samples()
    assert set(samples.groupby("split")["chrom"].unique().map(tuple)) == {
        ("chr1",),
        ("chr2",),
        ("chrM",),
    }
    assert samples.loc[samples["split"] == "train", "chrom"].eq("chr1").all()


def test_fasta_with_chromosome_split_rejected(tmp_path):
    pos = _fasta(tmp_path / "pos.fa", [("p", "ACGT" * 6)])
    with pytest.raises(UserError, match="BED input"):
        preprocess(
            _config(
                tmp_path,
                classes={"pos": pos, "neg": pos},
                split="chromosome",
                chromosomes={"train": ["a"], "validation": ["b"], "test": ["c"]},
            )
        )


def test_shuffled_negatives_keep_dinucleotides(tmp_path):
    seqs = [("".join("ACGT"[(i * j + j // 2) % 4] for j in range(20))) for i in range(12)]
    pos = _fasta(tmp_path / "pos.fa", [(f"p{i}", s) for i, s in enumerate(seqs)])
    ds = Dataset(
        preprocess(
            _config(
                tmp_path, classes={"bound": pos}, negatives="shuffle", negatives_name="shuffled"
            )
        ).run_dir
    )
    assert ds.classes == ["bound", "shuffled"]
    codes = ds.array("seq")
    samples = ds.samples()
    for row in samples[samples["class"] == "shuffled"].itertuples():
        original = seqs[int(row.source_line) - 1]
        shuffled = decode(codes[row.index])
        pairs = sorted(a + b for a, b in zip(original, original[1:], strict=False))
        assert sorted(a + b for a, b in zip(shuffled, shuffled[1:], strict=False)) == pairs
    assert base_codes(decode(codes[0])).max() <= 3


def test_background_negatives_from_example_genome(tmp_path):
    from gennie.dataset.negatives import gc_content
    from gennie.example import bed_example

    example = bed_example()
    genome = tmp_path / "genome.fa.gz"
    shutil.copy(example["genome"], genome)
    ds = Dataset(
        preprocess(
            _config(
                tmp_path,
                classes={"bound": example["classes"]["bound"]},
                genome=genome,
                window=100,
                negatives="background",
                negatives_name="background",
                ratio="7:1:1:1",
            )
        ).run_dir
    )
    samples = ds.samples()
    bound = samples[samples["class"] == "bound"]
    background = samples[samples["class"] == "background"]
    assert ds.classes == ["bound", "background"]
    assert len(background) == len(bound)
    assert (background["end"] - background["start"]).eq(100).all()
    # never overlapping a bound window on the same chromosome
    for row in background.itertuples():
        same = bound[bound["chrom"] == row.chrom]
        assert not ((same["start"] < row.end) & (same["end"] > row.start)).any()
    codes = ds.array("seq")
    gc_bound = gc_content([decode(codes[i]) for i in bound["index"]])
    gc_background = gc_content([decode(codes[i]) for i in background["index"]])
    assert abs(gc_bound.mean() - gc_background.mean()) < 0.02


# --------------------------------------------------------------------------- check


def test_check_of_a_good_configuration_finds_nothing(tmp_path, genome):
    a = _bed(tmp_path / "a.bed", _rows(3))
    b = _fasta(tmp_path / "b.fa", [("p", "ACGT" * 6)])
    assert check(_config(tmp_path, classes={"a": a, "b": b}, genome=genome)) == []


def test_check_lists_every_problem_with_its_field(tmp_path):
    a = _bed(tmp_path / "a.bed", _rows(3))
    b = _fasta(tmp_path / "b.fa", [("p", "ACGT" * 6)])
    listing = tmp_path / "list.txt"
    listing.write_text("ACGT\n")
    config = _config(
        tmp_path,
        classes={"a": a, "b": b, "c": listing, "d": tmp_path / "absent.bed"},
        branches=["seq", "cons"],
        split="chromosome",
        chromosomes={"train": ["chr1"], "validation": ["chr2"], "test": ["chr3"]},
    )
    problems = check(config)
    assert [(p.field, p.message) for p in problems] == [
        ("classes.c", "class files must be BED or FASTA"),
        ("classes.d", "class file not found"),
        ("genome", "BED class files need a reference genome or transcriptome"),
        ("split", "a chromosome split needs BED input; FASTA records have no chromosome"),
        (
            "branches",
            "the 'cons' branch needs genomic coordinates (BED input); FASTA classes (b) have none",
        ),
        ("conservation", "the cons branch needs at least one signal track"),
    ]
    with pytest.raises(UserError, match="class files must be BED or FASTA"):
        preprocess(config)  # the stage raises the first problem
    assert not (tmp_path / "out").exists()


def test_check_needs_two_classes_and_an_existing_genome(tmp_path):
    a = _bed(tmp_path / "a.bed", _rows(3))
    problems = check(_config(tmp_path, classes={"a": a}, genome=tmp_path / "absent.fa"))
    assert [(p.field, p.message) for p in problems] == [
        ("classes", "at least 2 class file(s) are needed, got 1"),
        ("genome", "genome FASTA not found"),
    ]


def test_check_asks_plug_in_branches_about_their_options(tmp_path):
    from gennie.encode import BranchEncoder
    from gennie.encode.registry import register_branch, unregister_branch

    class Width(BranchEncoder):
        name = "width"
        channels = 1

        def __init__(self, width: int = 3) -> None:
            super().__init__(width=width)

        def encode(self, batch):
            raise NotImplementedError

        def to_input(self, stored):
            raise NotImplementedError

    register_branch(Width)
    try:
        a = _fasta(tmp_path / "a.fa", [("p", "ACGT" * 6)])
        config = _config(
            tmp_path,
            classes={"a": a, "b": a},
            branches=["seq", "width"],
            branch_options={"width": {"wide": 5}, "nothing": {}},
        )
        problems = check(config)
    finally:
        unregister_branch("width")
    assert [p.field for p in problems] == ["branch_options.width", "branch_options.nothing"]
    assert problems[0].message.startswith("the options of the 'width' branch do not fit it (")
    assert problems[1].message == "branch_options names 'nothing', which is not a known branch"


def test_options_of_branches_not_chosen_are_warned_about(tmp_path, caplog):
    a = _fasta(tmp_path / "a.fa", [("p", "ACGT" * 6)])
    config = _config(tmp_path, classes={"a": a, "b": a}, branches=["seq"], fold_temperature=20.0)
    with caplog.at_level("WARNING", logger="gennie.preprocess"):
        assert check_config(config) == {"a": "fasta", "b": "fasta"}
    assert caplog.messages == [
        "fold_temperature is set but the fold branch is not chosen: it is unused"
    ]
