"""The variants stage: REF/ALT windows, allele handling, effects, outputs, CLI and API."""

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
from cli_run import run_gennie
from planted import planted_motif_dataset

from gennie.encode import WindowBatch, make_encoder
from gennie.io.tracks import write_bigwig
from gennie.variant_effects.vcf import read_vcf, skip_reason
from gennie.variant_effects.windows import allele_positions, trimmed, variant_windows

# 0-based:   0         1
#            01234567890123456789
GENOME = "ACGTTGCAAGGCTTAACCGA"


def fetch(start: int, end: int) -> str:
    return GENOME[start:end]


def windows(pos: int, ref: str, alt: str, flip: bool = False, ref_start: int | None = None):
    return variant_windows(fetch, len(GENOME), pos, ref, alt, 8, flip=flip, ref_start=ref_start)


# --------------------------------------------------------------------------- windows


def test_snv_windows_on_both_strands() -> None:
    plus = windows(9, "G", "T")  # POS 10
    assert plus.genome_ref == "G" and plus.ref_start == 5
    assert (plus.ref, plus.alt) == ("GCAAGGCT", "GCAATGCT")
    assert plus.alt_positions.tolist() == [5, 6, 7, 8, 9, 10, 11, 12]
    assert np.flatnonzero(plus.ref_changed).tolist() == [4]
    assert np.flatnonzero(plus.alt_changed).tolist() == [4]
    minus = windows(9, "G", "T", flip=True)
    assert (minus.ref, minus.alt) == ("AGCCTTGC", "AGCATTGC")
    assert minus.alt_positions.tolist() == [5, 6, 7, 8, 9, 10, 11, 12]  # genome order
    assert np.flatnonzero(minus.ref_changed).tolist() == [3]
    assert np.flatnonzero(minus.alt_changed).tolist() == [3]


def test_insertion_windows_keep_the_variant_centred() -> None:
    plus = windows(9, "G", "GTT")
    # REF centred on G (start 5); ALT centred on GTT in ACGTTGCAA|GTT|GCTTAACCGA.
    assert (plus.ref_start, plus.ref, plus.alt) == (5, "GCAAGGCT", "CAAGTTGC")
    assert plus.alt_positions.tolist() == [6, 7, 8, 9, -1, -1, 10, 11]
    assert np.flatnonzero(plus.alt_changed).tolist() == [4, 5]
    assert np.flatnonzero(plus.ref_changed).tolist() == [4, 5]  # around the insertion point
    minus = windows(9, "G", "GTT", flip=True)
    assert (minus.ref, minus.alt) == ("AGCCTTGC", "GCAACTTG")
    assert np.flatnonzero(minus.alt_changed).tolist() == [2, 3]


def test_deletion_windows_take_more_flank() -> None:
    plus = windows(9, "GGC", "G")
    assert (plus.ref_start, plus.ref, plus.alt) == (6, "CAAGGCTT", "GCAAGTTA")
    assert plus.alt_positions.tolist() == [5, 6, 7, 8, 9, 12, 13, 14]
    assert np.flatnonzero(plus.ref_changed).tolist() == [4, 5]  # the deleted GC
    assert np.flatnonzero(plus.alt_changed).tolist() == [4, 5]  # the junction G|T
    minus = windows(9, "GGC", "G", flip=True)
    assert (minus.ref, minus.alt) == ("AAGCCTTG", "TAACTTGC")
    assert minus.alt_positions.tolist() == [5, 6, 7, 8, 9, 12, 13, 14]


def test_windows_stay_inside_the_chromosome_and_in_a_site_window() -> None:
    edge = windows(1, "C", "A")  # centred start -3: shifted to 0
    assert (edge.ref_start, edge.ref, edge.alt) == (0, "ACGTTGCA", "AAGTTGCA")
    end = windows(18, "G", "GAAAA")  # REF shifted to the end; ALT centred on GAAAA
    assert (end.ref_start, end.ref, end.alt) == (12, "TTAACCGA", "AACCGAAA")
    assert end.alt_positions.tolist() == [14, 15, 16, 17, 18, -1, -1, -1]
    site = windows(9, "G", "T", ref_start=3)  # the site's window, not centred
    assert (site.ref, site.alt) == ("TTGCAAGG", "TTGCAATG")


def test_alleles_align_on_their_shared_bases() -> None:
    assert trimmed("CA", "CTTA") == (1, 1)
    assert allele_positions(10, "CA", "CTTA").tolist() == [10, -1, -1, 11]
    assert allele_positions(10, "ACG", "TTG").tolist() == [10, 11, 12]  # MNV keeps positions
    assert allele_positions(10, "ACGT", "A").tolist() == [10]


@pytest.mark.parametrize(
    ("ref", "alt", "reason"),
    [
        ("A", "<DEL>", "symbolic allele <DEL>"),
        ("A", "A]chr2:100]", "breakend"),
        ("A", "A.", "breakend"),
        ("A", "*", "spanning deletion (*)"),
        ("A", ".", "missing ALT allele"),
        ("A", "R", "letters other than A, C, G, T, N"),
        ("A", "A" + "C" * 21, "changes 21 bases, more than half the window (20)"),
        ("A", "A" + "C" * 20, None),
        ("ACGT", "TGCA", None),
    ],
)
def test_which_alleles_are_skipped(ref: str, alt: str, reason: str | None) -> None:
    assert skip_reason(ref, alt, 20) == reason


def test_conservation_reads_the_positions_alt_keeps(tmp_path: Path) -> None:
    entries = np.empty(20, dtype=[("start", "i8"), ("end", "i8"), ("value", "f4")])
    entries["start"], entries["end"] = np.arange(20), np.arange(1, 21)
    entries["value"] = np.arange(20) / 10
    write_bigwig(tmp_path / "t.bw", {"chr1": entries})
    encoder = make_encoder("cons", tracks=[str(tmp_path / "t.bw")])
    insertion = windows(9, "G", "GTT")
    batch = WindowBatch(
        sequences=[insertion.alt, insertion.alt],
        chroms=["chr1", "chr1"],
        starts=np.array([6, 6]),
        ends=np.array([12, 12]),
        strands=["+", "-"],
        positions=np.stack([insertion.alt_positions] * 2),
    )
    values = encoder.encode(batch)[:, 0]
    np.testing.assert_allclose(values[0], [0.6, 0.7, 0.8, 0.9, 0, 0, 1.0, 1.1], rtol=1e-6)
    np.testing.assert_allclose(values[1], values[0][::-1], rtol=1e-6)  # minus: reversed
    assert encoder.counts["inserted_bases"] == 4 and encoder.counts["missing_values"] == 0


def test_vcf_records_stream_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "x.vcf"
    path.write_text(VCF_HEADER + "chr1\t10\trs1\tG\tT,<DEL>\t.\t.\t.\tGT\t0/1\n")
    (record,) = read_vcf(path)
    assert (record.number, record.line, record.alts, record.id) == (1, 5, ("T", "<DEL>"), "rs1")


# --------------------------------------------------------------------------- end to end

VCF_HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=chr1>\n##FORMAT=<ID=GT,Number=1,Type=String,"
    'Description="Genotype">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
)
MOTIF_STARTS = (300, 800, 1300, 1800)
"""Where TGTAAATA is planted on chr1 (0-based)."""


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A model trained on planted TGTAAATA sites, a genome carrying four of them."""
    work = tmp_path_factory.mktemp("variants")
    dataset = planted_motif_dataset(work, 500, seed=0)
    done = run_gennie(
        "train", "--dataset", dataset, "--preset", "1layer", "--threads", "1", "--epochs", "10",
        "--lr", "0.01", "--batch-size", "32", "--out", work, "--name", "model", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rng = np.random.default_rng(1)
    genome = list(rng.choice(list("ACGT"), size=3000))
    for start in MOTIF_STARTS:
        genome[start : start + 8] = list("TGTAAATA")
    (work / "genome.fa").write_text(">chr1\n" + "".join(genome) + "\n")
    return {"work": work, "model": work / "model", "genome": "".join(genome)}


def vcf_lines(genome: str) -> list[str]:
    """Motif-breaking MNVs, far SNVs, an indel, a multi-allelic record, a mismatch and
    alleles that are skipped (1-based POS)."""
    lines = []
    for n, start in enumerate(MOTIF_STARTS):  # TGTAAATA → TGTCCATA
        ref = genome[start + 3 : start + 5]
        lines.append(f"chr1\t{start + 4}\tbreak{n}\t{ref}\tCC\t.\tPASS\t.\tGT\t0/1\n")
    for n, pos in enumerate((2200, 2300, 2400, 2500, 2600)):
        alt = "A" if genome[pos - 1] != "A" else "G"
        lines.append(f"chr1\t{pos}\tfar{n}\t{genome[pos - 1]}\t{alt}\t.\tPASS\t.\tGT\t1/1\n")
    pos = 2700
    other = [b for b in "ACGT" if b != genome[pos - 1]]
    alts = f"{other[0]},{other[1]},<DEL>"
    lines.append(f"chr1\t{pos}\tmulti\t{genome[pos - 1]}\t{alts}\t.\t.\t.\tGT\t1/2\n")
    wrong = "A" if genome[2749] != "A" else "C"
    lines.append(f"chr1\t2750\tmismatch\t{wrong}\tG\t.\t.\t.\tGT\t0/1\n")
    lines.append(f"chr1\t2800\tins\t{genome[2799]}\t{genome[2799]}TTT\t.\t.\t.\tGT\t0/1\n")
    lines.append(f"chr1\t2850\tdel\t{genome[2849:2853]}\t{genome[2849]}\t.\t.\t.\tGT\t0/1\n")
    lines.append(f"chr1\t2900\tstar\t{genome[2899]}\t*\t.\t.\t.\tGT\t0/1\n")
    return lines


def bgzipped_vcf(folder: Path, genome: str) -> Path:
    plain = folder / "calls.vcf"
    plain.write_text(VCF_HEADER + "".join(vcf_lines(genome)))
    pysam.tabix_compress(str(plain), str(folder / "calls.vcf.gz"), force=True)
    return folder / "calls.vcf.gz"


def run_variants(planted: dict, vcf: Path, name: str, *args: object):
    return run_gennie(
        "variants", "--model", planted["model"], "--vcf", vcf, "--genome",
        planted["work"] / "genome.fa", "--out", planted["work"], "--name", name,
        "--threads", "1", "--top", "3", "--steps", "8", "--json", *args,
    )  # fmt: skip


@pytest.fixture(scope="module")
def scored(planted: dict) -> dict:
    vcf = bgzipped_vcf(planted["work"], planted["genome"])
    done = run_variants(planted, vcf, "scored")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    table = pd.read_csv(Path(summary["run_dir"]) / "variants.tsv", sep="\t")
    return {"summary": summary, "table": table, "run": Path(summary["run_dir"])}


def test_rows_statuses_and_counts(scored: dict) -> None:
    table, summary = scored["table"], scored["summary"]
    assert list(table.columns[:7]) == ["chrom", "pos", "id", "ref", "alt", "strand", "status"]
    assert {"ref_pos", "alt_pos", "delta_pos", "logodds_pos", "delta_neg"} <= set(table.columns)
    ids = table["id"].drop_duplicates().tolist()
    assert ids[:4] == ["break0", "break1", "break2", "break3"] and ids[-1] == "star"
    multi = table[table["id"] == "multi"]
    assert multi["strand"].tolist() == ["+", "-", "+", "-", "."]
    assert multi["status"].iloc[-1] == "skipped: symbolic allele <DEL>"
    assert table.loc[table["id"] == "mismatch", "status"].tolist() == ["ref_mismatch"]
    assert table.loc[table["id"] == "star", "status"].tolist() == ["skipped: spanning deletion (*)"]
    assert (summary["records"], summary["scored"], summary["ref_mismatch"]) == (14, 26, 1)
    assert summary["skipped"] == 2 and summary["outside_sites"] == 0
    scored_rows = table[table["status"] == "scored"]
    np.testing.assert_allclose(
        scored_rows["delta_pos"], scored_rows["alt_pos"] - scored_rows["ref_pos"], atol=2e-6
    )
    p = scored_rows[["ref_pos", "alt_pos"]].to_numpy()
    unsaturated = ((p > 0.01) & (p < 0.99)).all(axis=1)  # 6 decimals: log-odds still exact
    p = p[unsaturated]
    odds = np.log(p / (1 - p))
    assert unsaturated.sum() >= 3
    np.testing.assert_allclose(
        scored_rows["logodds_pos"][unsaturated], odds[:, 1] - odds[:, 0], atol=2e-3
    )


def test_motif_breaking_variants_have_the_most_negative_effects(scored: dict) -> None:
    # On the motif's strand: probabilities saturate near 1, so log-odds separate best.
    plus = scored["table"][(scored["table"]["strand"] == "+")].set_index("id")
    breaking = plus.loc[[f"break{n}" for n in range(4)]]
    far = plus.loc[[f"far{n}" for n in range(5)]]
    assert breaking["delta_pos"].max() < -0.3, breaking["delta_pos"]
    assert far["delta_pos"].abs().max() < 0.15, far["delta_pos"]
    assert breaking["logodds_pos"].max() < -5 < -2 < far["logodds_pos"].min()
    assert set(plus["logodds_pos"].nsmallest(4).index) == set(breaking.index)


def test_annotated_vcf_reads_back_with_pysam(scored: dict) -> None:
    path = scored["run"] / "variants.vcf.gz"
    assert Path(str(path) + ".tbi").is_file()
    table = scored["table"]
    with pysam.VariantFile(str(path)) as vcf:
        assert "GENNIE_DELTA_pos" in vcf.header.info and not list(vcf.header.samples)
        assert vcf.header.info["GENNIE_DELTA_pos"].number == "A"
        records = {r.id: r for r in vcf.fetch("chr1", 0, 3000)}
    best = table[table["id"] == "break1"].sort_values("delta_pos", key=abs).iloc[-1]
    (delta,) = records["break1"].info["GENNIE_DELTA_pos"]
    assert delta == pytest.approx(best["delta_pos"], abs=1e-5)
    assert records["break1"].info["GENNIE_STRAND"] == (best["strand"],)
    assert records["multi"].info["GENNIE_STATUS"] == ("scored", "scored", "skipped")
    assert records["multi"].info["GENNIE_DELTA_pos"][2] is None
    assert records["mismatch"].info["GENNIE_STATUS"] == ("ref_mismatch",)


def test_report_and_plot(scored: dict) -> None:
    report = (scored["run"] / "report.html").read_text()
    assert report.count("<section") == 2 * 3 * 2  # REF and ALT of the top 3, per class
    assert "changed by the variant" in report and "Largest effects on pos" in report
    assert (scored["run"] / "effects.png").read_bytes()[:4] == b"\x89PNG"


def test_ref_mismatch_error_names_the_line(planted: dict) -> None:
    vcf = planted["work"] / "mismatch.vcf"
    lines = [line for line in vcf_lines(planted["genome"]) if "\tmismatch\t" in line]
    vcf.write_text(VCF_HEADER + "".join(lines))
    done = run_variants(planted, vcf, "mismatch", "--ref-mismatch", "error")
    assert done.returncode == 2
    error = json.loads(done.stdout)
    assert "differs from the genome's" in error["error"] and error["line"] == 5


def test_chromosome_names_differing_from_the_genome(planted: dict) -> None:
    vcf = planted["work"] / "renamed.vcf"
    vcf.write_text(VCF_HEADER.replace("chr1", "1") + "1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/1\n")
    done = run_variants(planted, vcf, "renamed")
    assert done.returncode == 2
    message = json.loads(done.stdout)["error"]
    assert "the VCF says '1'" in message and "calls it 'chr1'" in message


def test_sites_choose_window_and_strand(planted: dict) -> None:
    sites = planted["work"] / "sites.bed"
    sites.write_text("chr1\t296\t312\tpeakA\t0\t+\nchr1\t1296\t1312\tpeakC\t0\t-\n")
    vcf = planted["work"] / "plain.vcf"
    vcf.write_text(VCF_HEADER + "".join(vcf_lines(planted["genome"])))
    done = run_variants(planted, vcf, "sites", "--sites", sites)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(Path(json.loads(done.stdout)["run_dir"]) / "variants.tsv", sep="\t")
    scored = table[table["status"] == "scored"]
    assert scored[["id", "strand", "site"]].values.tolist() == [
        ["break0", "+", "peakA"],
        ["break2", "-", "peakC"],
    ]
    assert table.loc[table["id"] == "break1", "status"].tolist() == ["outside_sites"]
    # The same window as the one centred on the variant? No: the site's (296..312 → 284..324).
    assert scored["ref_pos"].iloc[0] > 0.5


def test_python_api(planted: dict) -> None:
    import gennie
    from gennie.config import VariantsConfig

    plain = planted["work"] / "api.vcf"
    plain.write_text(VCF_HEADER + "".join(vcf_lines(planted["genome"])[:2]))
    vcf = Path(pysam.tabix_index(str(plain), preset="vcf", force=True))  # bgzipped + .tbi
    assert vcf.name == "api.vcf.gz" and Path(f"{vcf}.tbi").is_file()
    result = gennie.variants(
        VariantsConfig(
            model=planted["model"],
            vcf=vcf,
            genome=planted["work"] / "genome.fa",
            strand="+",
            top=0,
            out=planted["work"],
            name="api",
        )
    )
    table = pd.read_csv(result.run_dir / "variants.tsv", sep="\t")
    assert table["strand"].tolist() == ["+", "+"] and result.summary["scored"] == 2
    with gzip.open(result.run_dir / "variants.vcf.gz", "rt") as handle:
        assert sum(1 for line in handle if not line.startswith("#")) == 2


# --------------------------------------------------------------------------- three branches


@pytest.fixture(scope="module")
def three_branches(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A seq + fold + cons model trained briefly on the bundled BED example."""
    from gennie.example import bed_example

    work = tmp_path_factory.mktemp("variants3")
    files = bed_example()
    genome = work / "genome.fa.gz"
    genome.write_bytes(Path(files["genome"]).read_bytes())
    done = run_gennie(
        "preprocess", "--class", f"bound={files['classes']['bound']}",
        "--class", f"unbound={files['classes']['unbound']}", "--genome", genome,
        "--branches", "seq,fold,cons",
        "--conservation", files["conservation"], "--window", "40", "--threads", "1",
        "--out", work, "--name", "data", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = run_gennie(
        "train", "--dataset", work / "data", "--epochs", "1", "--threads", "1",
        "--out", work, "--name", "model", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return {"work": work, "genome": genome, "bound": files["classes"]["bound"]}


def test_three_branch_model_recomputes_every_branch_for_alt(three_branches: dict) -> None:
    work = three_branches["work"]
    with pysam.FastaFile(str(three_branches["genome"])) as fasta:
        chrom = fasta.fetch("chr1")
    variants = [  # in the windows of bound_002 (+), _003 (-), _004 (-), _005 (+)
        f"chr1\t549\tbreak_plus\t{chrom[548:550]}\tCC",
        f"chr1\t761\tbreak_minus\t{chrom[760:762]}\tGG",
        f"chr1\t967\tins_at_start\t{chrom[966]}\t{chrom[966]}TTT",
        f"chr1\t1217\tdel_at_end\t{chrom[1216:1220]}\t{chrom[1216]}",
    ]
    vcf = work / "calls.vcf"
    vcf.write_text(VCF_HEADER + "".join(f"{v}\t.\t.\t.\tGT\t0/1\n" for v in variants))
    done = run_gennie(
        "variants", "--model", work / "model", "--vcf", vcf, "--genome",
        three_branches["genome"], "--sites", three_branches["bound"],
        "--cache-dir", work / "cache", "--out", work, "--name", "variants", "--threads", "1",
        "--top", "1", "--steps", "4", "--jobs", "1", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    table = pd.read_csv(Path(summary["run_dir"]) / "variants.tsv", sep="\t")
    assert table[["id", "strand", "site", "status"]].values.tolist() == [
        ["break_plus", "+", "bound_002", "scored"],
        ["break_minus", "-", "bound_003", "scored"],
        ["ins_at_start", "-", "bound_004", "scored"],
        ["del_at_end", "+", "bound_005", "scored"],
    ]
    # REF windows are the sites' windows, folded by preprocess: from its fold cache.
    # The four ALT windows are folded; the three inserted bases have no track value.
    assert summary["branches"]["fold"] == {"folded": 4, "fold_cache_hits": 4}
    assert summary["branches"]["cons"]["inserted_bases"] == 3
    assert summary["branches"]["cons"]["missing_values"] == 0
    assert (table["delta_bound"] != 0).all()


def test_centred_windows_follow_the_bed_rule() -> None:
    from gennie.dataset.windows import place_windows
    from gennie.variant_effects.windows import centred_start

    for length in range(1, 12):
        for window in (7, 8, 40):
            expected = place_windows(np.array([100]), np.array([100 + length]), window, "center")
            assert centred_start(100, length, window) == expected[0]


def test_check_names_the_missing_and_unreadable_inputs(tmp_path: Path) -> None:
    from gennie.config import VariantsConfig
    from gennie.variant_effects.stage import check

    assert [(p.field, p.message) for p in check(VariantsConfig())] == [
        ("vcf", "no VCF given"),
        ("model", "no model given"),
    ]
    (tmp_path / "notes.vcf").write_text("hello\n")
    problems = check(VariantsConfig(vcf=tmp_path / "notes.vcf", sites=tmp_path / "no.bed"))
    fields = [p.field for p in problems]
    assert fields == ["model", "vcf", "sites"]
    assert problems[1].message.startswith("cannot read the VCF")


def test_a_malformed_record_is_an_error_with_its_line(tmp_path: Path) -> None:
    from gennie.errors import UserError

    path = tmp_path / "bad.vcf"
    path.write_text(VCF_HEADER + "chr1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/1\nchr1\t30\n")
    records = read_vcf(path)
    assert next(records).pos == 10
    with pytest.raises(UserError) as error:
        next(records)
    assert (error.value.line, error.value.field) == (6, "vcf")
    assert error.value.message.startswith("record 2 cannot be read")


def test_windows_of_random_indels_near_window_and_chromosome_edges() -> None:
    rng = np.random.default_rng(0)
    genome = "".join(rng.choice(list("ACGT"), size=60))
    for _ in range(500):
        r, a = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        pos = int(rng.integers(0, 60 - r + 1))
        alt = genome[pos] + "".join(rng.choice(list("ACGT"), size=a - 1))
        # a site window overlapping REF (it may start inside it), inside the chromosome
        site = int(rng.integers(max(0, pos - 15), min(pos + r - 1, 60 - 16) + 1))
        for ref_start in (None, site):
            for flip in (False, True):
                w = variant_windows(
                    lambda s, e: genome[s:e], 60, pos, genome[pos : pos + r], alt, 16,
                    flip=flip, ref_start=ref_start,
                )  # fmt: skip
                assert len(w.ref) == len(w.alt) == 16 and w.genome_ref == genome[pos : pos + r]
                alt_plus = (
                    w.alt if not flip else w.alt[::-1].translate(str.maketrans("ACGT", "TGCA"))
                )
                kept = w.alt_positions >= 0
                outside = kept & ((w.alt_positions < pos) | (w.alt_positions >= pos + r))
                # bases outside the allele are the genome's own, at their positions
                assert all(
                    alt_plus[i] == genome[p] for i, p in enumerate(w.alt_positions) if outside[i]
                )
                assert (np.diff(w.alt_positions[kept]) > 0).all()  # genome order kept
                assert (~kept).sum() <= max(0, a - r)
