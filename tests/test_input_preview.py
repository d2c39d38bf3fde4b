"""The preview of labelled input files: what :func:`gennie.dataset.labelled.preview_labelled`
reads (first records, labels, classes, counts, lengths, chromosomes) on tiny hand-made
files, and the Preprocess and Evaluate pages showing it above Run, with the problems
that would stop the run, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gennie.config import EvaluateConfig, PreprocessConfig
from gennie.dataset.labelled import preview_labelled
from gennie.errors import UserError
from gennie.gui.pages import page_of
from gennie.gui.preview import absent_chromosomes, input_preview

FASTA = (
    ">s1 class:1\nACGTACGTAC\n"
    ">s2 class:0\nACGTAC\n"
    ">s3 class:0\nACGTACGT\n"
    ">s4 class:0\nACGTACGTACGT\n"
)
TABLE = "id\tsequence\tlabel\nr1\tACGT\tbound\nr2\tACGTA\tfree thing\n\nr3\tAC\tbound\n"
BED = "chr1\t10\t20\tp1\t0\t+\tyes\nchr2\t5\t25\tp2\t0\t-\tno\n1\t0\t4\tp3\t0\t.\tno\n"


def _options(**values) -> PreprocessConfig:
    return PreprocessConfig(**values)


def test_fasta_preview_rows_counts_and_lengths(tmp_path: Path) -> None:
    path = tmp_path / "x.fa"
    path.write_text(FASTA)
    preview = preview_labelled([path], _options(label_map=["1=bound"]), rows=2)
    assert preview.format == "fasta" and preview.total == 4
    assert preview.counts == {"bound": 1, "0": 3}  # label_map's classes first
    assert preview.rows == [
        {
            "file": "x.fa",
            "where": "record 1",
            "record": "s1 class:1",
            "label": "1",
            "class": "bound",
        },
        {"file": "x.fa", "where": "record 2", "record": "s2 class:0", "label": "0", "class": "0"},
    ]
    assert preview.lengths == (6, 10, 12)
    assert preview.forms == {str(path): "'class:LABEL' or 'label=LABEL'"}
    assert preview.chromosomes == {} and preview.unknown == []


def test_table_preview_makes_safe_class_names(tmp_path: Path) -> None:
    path = tmp_path / "x.tsv"
    path.write_text(TABLE)
    preview = preview_labelled([path], _options())
    assert preview.counts == {"bound": 2, "free_thing-0d3e0a24": 1}  # as preprocess names it
    assert [(r["where"], r["record"], r["label"], r["class"]) for r in preview.rows] == [
        ("line 2", "r1", "bound", "bound"),
        ("line 3", "r2", "free thing", "free_thing-0d3e0a24"),
        ("line 5", "r3", "bound", "bound"),
    ]
    assert preview.lengths == (2, 4, 5)


def test_bed_preview_with_a_class_column_lists_chromosomes(tmp_path: Path) -> None:
    path = tmp_path / "x.bed"
    path.write_text(BED)
    preview = preview_labelled([path], _options(class_column=7))
    assert preview.format == "bed"
    assert preview.counts == {"no": 2, "yes": 1}
    assert preview.chromosomes == {"chr1": 1, "chr2": 1, "1": 1}
    assert [r["record"] for r in preview.rows] == ["chr1:10-20(+)", "chr2:5-25(-)", "1:0-4"]
    assert preview.lengths == (4, 10, 20)


def test_preview_with_a_models_classes_lists_unknown_labels(tmp_path: Path) -> None:
    path = tmp_path / "x.fa"
    path.write_text(FASTA)
    config = EvaluateConfig(label_map=["1=bound"])
    preview = preview_labelled([path], config, classes=["unbound", "bound"])
    assert preview.counts == {"bound": 1, "0": 3}
    assert preview.unknown == ["0"]
    mapped = EvaluateConfig(label_map=["1=bound", "0=unbound"])
    preview = preview_labelled([path], mapped, classes=["unbound", "bound"])
    assert preview.counts == {"unbound": 3, "bound": 1} and preview.unknown == []


def test_preview_raises_what_the_reader_raises(tmp_path: Path) -> None:
    path = tmp_path / "x.fa"
    path.write_text(">seq1_bound\nACGT\n>seq2_free\nACGT\n")
    with pytest.raises(UserError) as caught:
        preview_labelled([path], _options())
    assert caught.value.field == "label_pattern"
    assert "--label-pattern '_([^_]+)$'" in caught.value.hint


def test_absent_chromosomes_names_the_other_naming():
    names = frozenset({"chr1", "chr2"})
    assert absent_chromosomes({"chr1": 3}, names) is None
    assert absent_chromosomes({"chr1": 3, "1": 2, "chrX": 1}, names) == (
        "3 intervals lie on chromosomes the genome does not have: 1 (2; the genome has "
        "chr1), chrX (1). Use the genome the coordinates refer to, or rename the chromosomes."
    )


def test_input_preview_checks_chromosomes_against_the_genome(tmp_path: Path) -> None:
    (tmp_path / "x.bed").write_text(BED)
    (tmp_path / "g.fa").write_text(">chr1\n" + "A" * 40 + "\n>chr2\n" + "C" * 40 + "\n")
    values = {"input": ["x.bed"], "class_column": 7, "genome": "g.fa"}
    result = input_preview("preprocess", values, tmp_path)
    assert result.problems == [
        "1 intervals lie on chromosomes the genome does not have: 1 (1; the genome has "
        "chr1). Use the genome the coordinates refer to, or rename the chromosomes."
    ]
    assert input_preview("preprocess", {"input": ["missing.bed"]}, tmp_path) is None
    assert input_preview("train", values, tmp_path) is None


# --------------------------------------------------------------------------- pages


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("GENNIE_WORKSPACE", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _script(url: str) -> None:
    from gennie.gui.navigation import render_page

    render_page(url)


def _page(stage: str) -> AppTest:
    return AppTest.from_function(_script, args=(page_of(stage).url,), default_timeout=60).run()


def _frames(at: AppTest) -> list:
    """The records per class (a small table) and the first records (a data frame)."""
    (counts,) = [t.value.reset_index() for t in at.table]
    (rows,) = [d.value for d in at.dataframe]
    return [counts, rows]


def test_preprocess_page_previews_a_labelled_fasta(workspace: Path) -> None:
    lines = [f">s{i} class:{int(i % 5 == 0)}\nACGTACGTACGTACGTACGT\n" for i in range(20)]
    (workspace / "all.fa").write_text("".join(lines))
    at = _page("preprocess")
    at.text_area(key="preprocess.input").input("all.fa")
    at.text_area(key="preprocess.label_map").input("1=bound\n0=unbound").run()
    assert not at.exception
    assert "Input preview" in [h.value for h in at.subheader]
    counts, rows = _frames(at)
    assert list(counts["class"]) == ["bound", "unbound"]
    assert list(counts["records"]) == [4, 16]
    assert list(rows.columns) == ["file", "where", "record", "label", "class"]
    assert len(rows) == 8 and rows.iloc[0]["class"] == "bound"
    assert any("20 sequences, lengths 20–20 (median 20)" in c.value for c in at.caption)
    assert any("imbalanced (4.0:1)" in i.value for i in at.info)
    assert not at.button(key="preprocess.run").disabled


def test_preprocess_page_shows_a_header_without_a_label_before_running(workspace: Path) -> None:
    (workspace / "all.fa").write_text(">seq1_bound\nACGTACGT\n>seq2_free\nACGTACGT\n")
    at = _page("preprocess")
    at.text_area(key="preprocess.input").input("all.fa").run()
    assert not at.exception
    problems = [e.value for e in at.error]
    assert any(
        "no label in header 'seq1_bound'" in p and "--label-pattern '_([^_]+)$'" in p
        for p in problems
    )
    assert at.button(key="preprocess.run").disabled
    at.text_input(key="preprocess.label_pattern").input("_([^_]+)$").run()
    counts, _ = _frames(at)
    assert list(counts["class"]) == ["bound", "free"]
    assert not any("no label in header" in e.value for e in at.error)


def test_evaluate_page_previews_its_input_file(workspace: Path) -> None:
    (workspace / "test.tsv").write_text(TABLE)
    at = _page("evaluate")
    at.text_input(key="evaluate.input").input("test.tsv").run()
    assert not at.exception
    counts, rows = _frames(at)
    assert list(counts["records"]) == [2, 1]
    assert list(rows["label"]) == ["bound", "free thing", "bound"]


def test_evaluate_preview_names_labels_that_are_no_class_of_the_model(tmp_path: Path) -> None:
    model = Path(__file__).parent / "data" / "legacy" / "model"  # classes bound, unbound
    (tmp_path / "test.fa").write_text(
        ">a class:bound\nACGTACGTACGT\n>b class:free\nACGTACGTACGT\n>c class:free\nACGTAC\n"
    )
    values = {"model": str(model), "input": "test.fa"}
    result = input_preview("evaluate", values, tmp_path)
    assert result.preview.counts == {"bound": 1, "free": 2}
    assert result.problems == [
        "label(s) free are no class of the model; name the model's class of each label "
        "under Label map (LABEL=CLASS)"
    ]
    mapped = input_preview("evaluate", {**values, "label_map": ["free=unbound"]}, tmp_path)
    assert mapped.preview.counts == {"bound": 1, "unbound": 2} and mapped.problems == []
    assert mapped.notes == []  # imbalance is a training matter
