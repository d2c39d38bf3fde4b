"""GUI pages with Streamlit's AppTest: pages from the stage registry, fields and
defaults from the config models, dependent fields, inline messages from the model and
the stage's check, loading earlier parameters, submitting jobs; and the form helpers
underneath (path descriptions, page checks) on tiny hand-made files."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from gennie.config import STAGES, Stage, TrainConfig, dump_config, load_run_config
from gennie.config.options import options
from gennie.errors import UserError
from gennie.gui import APP
from gennie.gui.fields import (
    check_path,
    problem_text,
    resolve_path,
    stage_options,
    validate_page,
    visible,
)
from gennie.gui.form import _from_raw, to_raw
from gennie.gui.pages import GOTO, RUNS, page_of, page_table
from gennie.jobs import JobStore
from gennie.runs import check_run_folder

BED = "track name=x\nchr1\t0\t10\ta\t0\t+\nchr1\t20\t30\tb\t0\t-\n# note\nchr2\t5\t15\tc\t0\t+\n"
FASTA_A = "".join(f">a{i}\nACGTACGTACGTACGTACGT\n" for i in range(20))
FASTA_B = "".join(f">b{i}\nTTTTGGGGCCCCAAAATTTT\n" for i in range(20))


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("GENNIE_WORKSPACE", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _script(url: str) -> None:
    from gennie.gui.navigation import render_page

    render_page(url)


def _open(url: str) -> AppTest:
    return AppTest.from_function(_script, args=(url,), default_timeout=60)


def _page(stage: str) -> AppTest:
    page = page_of(stage)
    at = _open(page.url)
    if len(page.stages) > 1:
        at.session_state[f"{page.title.lower()}.stage"] = stage
    return at.run()


def _infos(at: AppTest) -> list[str]:
    return [i.value for i in at.info]


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def _fake_run(folder: Path, stage: str, status: str = "complete", **files: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(
        json.dumps({"stage": stage, "status": status, "started": "2026-01-01T10:00:00"})
    )
    for name, text in files.items():
        path = folder / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


# --------------------------------------------------------------------------- helpers


def test_pages_come_from_the_stage_registry():
    table = page_table()
    assert [(p.url, p.title, p.stages) for p in table] == [
        ("preprocess", "Preprocess", ("preprocess",)),
        ("train", "Train", ("train",)),
        ("evaluate", "Evaluate", ("evaluate",)),
        ("predict", "Predict", ("predict",)),
        ("variants", "Variants", ("variants",)),
        ("tune", STAGES["tune"].title, ("tune",)),
        ("interpret", "Interpret", ("motifs", "ism")),
        (RUNS, "Runs", ()),
    ]
    assert sorted(s for p in table for s in p.stages) == sorted(STAGES)
    for name, stage in STAGES.items():
        assert page_of(name).url == stage.command[0]
    assert len({p.icon for p in table}) == len(table)


def test_a_page_offers_the_options_of_its_model():
    for name, stage in STAGES.items():
        assert stage_options(name) == options(stage.config)
        assert [o.name for o in stage_options(name)] == list(stage.config.model_fields)


def test_dependent_fields():
    assert visible("preprocess", "ratio", {"split": "random"})
    assert not visible("preprocess", "chromosomes", {"split": "random"})
    assert visible("preprocess", "chromosomes", {"split": "chromosome"})
    assert not visible("train", "lr_decay", {"lr_schedule": "fixed"})
    assert visible("train", "lr_decay", {"lr_schedule": "decay"})
    assert not visible("train", "centre_window", {"centre_networks": 0})
    assert visible("train", "centre_window", {"centre_networks": 1})
    assert not visible("train", "lr_factor", {"lr_schedule": "decay"})
    assert visible("train", "lr_patience", {"lr_schedule": "plateau"})
    assert not visible("predict", "custom_window", {"model": "runs/train_1"})
    assert visible("predict", "custom_window", {"model": "net.onnx"})


def test_check_path_counts_records_and_chromosomes(tmp_path):
    import gzip

    (tmp_path / "x.bed").write_text(BED)
    (tmp_path / "x.bed.gz").write_bytes(gzip.compress(BED.encode()))
    (tmp_path / "x.fa").write_text(">s1\nACGT\n>s2\nGGCC\n")
    (tmp_path / "i.fa").write_text(">s1\nACGT\n")
    (tmp_path / "i.fa.fai").write_text("s1\t4\t4\t4\t5\nt\t4\t14\t4\t5\n")
    (tmp_path / "x.txt").write_text("ACGT\n\nGGCC\n# a note\nTTAA\n")
    (tmp_path / "x.wig").write_text("fixedStep chrom=chr1 start=1 step=1\n0.5\n0.7\n")
    (tmp_path / "net.onnx").write_bytes(b"\0" * 2000)
    (tmp_path / "notes.meme").write_text("MEME version 4\n")
    bed = check_path(tmp_path / "x.bed", "input")
    assert (bed.ok, bed.format, bed.records) == (True, "bed", 3)
    assert bed.chromosomes == {"chr1": 2, "chr2": 1}
    assert bed.message == "BED, 3 intervals on 2 chromosomes"
    assert check_path(tmp_path / "x.bed.gz", "input").chromosomes == {"chr1": 2, "chr2": 1}
    assert check_path(tmp_path / "x.fa", "input").message == "FASTA, 2 sequences"
    assert check_path(tmp_path / "i.fa", "genome").message == "FASTA, 2 sequences"  # the index
    assert check_path(tmp_path / "x.txt", "input").message == "sequences, 3 lines"
    assert check_path(tmp_path / "x.wig", "conservation").message == "signal track (wig), 0.0 kB"
    assert check_path(tmp_path / "net.onnx", "model").message == "model file, 2.0 kB"
    # what a field may take is the stage's to say: an unknown format is only described
    other = check_path(tmp_path / "notes.meme", "database")
    assert (other.ok, other.message, other.format) == (True, "file, 0.0 kB", None)
    assert check_path(tmp_path / "nope.bed", "input").message == f"not found: {tmp_path}/nope.bed"
    assert check_path(tmp_path / "new", "out").message == "will be created"
    assert not check_path(tmp_path / "x.bed", "out").ok
    assert check_path(tmp_path, "input").message == "this is a folder; give a file"
    empty = check_path(tmp_path, "dataset")
    assert (empty.ok, empty.message) == (False, "not a gennie preprocess run folder (no run.json)")
    run = _fake_run(tmp_path / "t", "train")
    assert check_path(run, "model").message == "train run, complete"
    wrong = check_path(run, "dataset")
    assert (wrong.ok, wrong.message) == (False, "this is a train run folder, not a preprocess one")
    running = _fake_run(tmp_path / "r", "train", status="running")
    assert check_path(running, "model").message == "this train run did not finish (status: running)"


def test_paths_relative_absolute_and_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_path("data/a.bed", tmp_path) == tmp_path / "data/a.bed"
    assert resolve_path("~/a.bed", tmp_path) == tmp_path / "home/a.bed"
    assert resolve_path("/x/a.bed", tmp_path) == Path("/x/a.bed")
    (tmp_path / "a.fa").write_text(FASTA_A)
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "b.fa").write_text(FASTA_B)
    values = {"classes": {"a": "a.fa", "b": "~/b.fa"}, "window": 20, "out": "runs"}
    check = validate_page("preprocess", values, tmp_path)
    assert check.ok, check.errors
    assert check.config.classes == {"a": tmp_path / "a.fa", "b": tmp_path / "home/b.fa"}
    assert check.config.out == tmp_path / "runs"
    _fake_run(tmp_path / "runs" / "mine", "preprocess")
    taken = validate_page("preprocess", {**values, "name": "mine"}, tmp_path)
    (problem,) = check_run_folder(check.config.model_copy(update={"name": "mine"}))
    assert problem.message == "a finished run with this name exists already"
    assert taken.errors == {"name": problem_text(problem)}  # the library's rule and words
    assert taken.config is None


def test_an_emptied_output_folder_is_the_default_folder(tmp_path):
    # Not the workspace itself: the run-name check already took it as the default.
    (tmp_path / "a.fa").write_text(FASTA_A)
    (tmp_path / "b.fa").write_text(FASTA_B)
    out = next(opt for opt in stage_options("preprocess") if opt.name == "out")
    assert _from_raw(out, "  ") is None
    values = {"classes": {"a": "a.fa", "b": "b.fa"}, "window": 20, "out": _from_raw(out, "")}
    check = validate_page("preprocess", values, tmp_path)
    assert check.ok, check.errors
    assert check.config.out == tmp_path / "gennie-runs"


# --------------------------------------------------------------------------- pages


@pytest.mark.parametrize("stage", list(STAGES))
def test_every_field_is_on_its_page_with_the_default(workspace, stage):
    at = _page(stage)
    assert not at.exception
    values: dict = {}
    for ff in stage_options(stage):
        if ff.kind in ("classes", "chromosomes") or not visible(stage, ff.name, values):
            continue
        if stage == "train" and ff.name == "architecture":
            assert at.checkbox(key="train.custom_architecture").value is False
            continue
        widget = at.session_state[f"{stage}.{ff.name}"]
        assert widget == to_raw(ff, ff.default), ff.name
    assert at.button(key=f"{stage}.run").disabled  # nothing to run on yet


def test_dependent_fields_keep_their_values(workspace):
    at = _page("preprocess")
    at.text_input(key="preprocess.ratio").input("8:1:1").run()
    assert not any(w.key.startswith("preprocess.chromosomes.") for w in at.text_input)
    at.selectbox(key="preprocess.split").select("chromosome").run()
    assert "preprocess.ratio" not in [w.key for w in at.text_input]
    at.text_input(key="preprocess.chromosomes.test").input("chr3").run()
    at.selectbox(key="preprocess.split").select("random").run()
    assert at.text_input(key="preprocess.ratio").value == "8:1:1"
    at.selectbox(key="preprocess.split").select("chromosome").run()
    assert at.text_input(key="preprocess.chromosomes.test").value == "chr3"

    train = _page("train")
    assert "train.lr_decay" not in [w.key for w in train.number_input]
    train.selectbox(key="train.lr_schedule").select("decay").run()
    assert train.number_input(key="train.lr_decay").value == 0.95
    assert "train.lr_factor" not in [w.key for w in train.number_input]
    train.selectbox(key="train.lr_schedule").select("plateau").run()
    assert train.number_input(key="train.lr_factor").value == 0.2
    assert train.number_input(key="train.lr_patience").value == 3


def test_inline_validation_before_running(workspace):
    (workspace / "a.bed").write_text(BED)
    at = _page("preprocess")
    at.text_input(key="preprocess.classes.0.file").input("a.bed")
    at.text_input(key="preprocess.classes.1.file").input("missing.fa")
    at.text_input(key="preprocess.ratio").input("7:1").run()
    errors = _errors(at)
    assert f"not found: {workspace}/missing.fa" in errors
    assert any("must have 3 or 4 parts" in e for e in errors)
    # the stage's check runs on the valid fields: the genome is still to be filled in
    genome = _stage_problem("preprocess", "genome", classes={"a": workspace / "a.bed"})
    assert problem_text(genome) in _infos(at)
    assert "✓ BED, 3 intervals on 2 chromosomes" in [c.value for c in at.caption]
    assert at.button(key="preprocess.run").disabled
    # chromosome split: the chromosomes of the class files are listed
    at.selectbox(key="preprocess.split").select("chromosome").run()
    assert any(
        "Chromosomes in the class files (intervals): chr1 (2), chr2 (1)" in e for e in _errors(at)
    )


def test_previous_run_fills_every_field(workspace):
    config = TrainConfig(
        dataset=workspace / "data",
        epochs=7,
        optimizer="sgd",
        lr=0.05,
        lr_schedule="decay",
        lr_decay=0.9,
        early_stopping=False,
        batch_size=16,
        architecture={"branches": {"seq": [{"type": "conv", "filters": 8}]}, "common": []},
        out=workspace / "runs",
    )
    run = _fake_run(workspace / "runs" / "train_old", "train")
    dump_config(config, run / "parameters.yaml")
    at = _page("train")
    at.selectbox(key="train.load.run").select("runs/train_old")
    at.button(key="train.load.button").click().run()
    assert "Loaded the parameters of runs/train_old." in [s.value for s in at.success]
    assert at.text_input(key="train.dataset").value == "data"
    assert at.number_input(key="train.epochs").value == 7
    assert at.selectbox(key="train.optimizer").value == "sgd"
    assert at.number_input(key="train.lr").value == 0.05
    assert at.selectbox(key="train.lr_schedule").value == "decay"
    assert at.number_input(key="train.lr_decay").value == 0.9
    assert at.checkbox(key="train.early_stopping").value is False
    assert "train.patience" not in [w.key for w in at.number_input]  # hidden now
    assert at.checkbox(key="train.custom_architecture").value is True
    assert _layer_widget(at, "number_input", ".seq.0.filters").value == 8  # the layer editor
    at.radio(key="train.architecture.view").set_value("YAML").run()
    assert "filters: 8" in at.text_area(key="train.architecture").value
    assert at.text_input(key="train.out").value == "runs"


def test_run_submits_a_job_that_writes_the_cli_run_folder(workspace):
    (workspace / "a.fa").write_text(FASTA_A)
    (workspace / "b.fa").write_text(FASTA_B)
    at = _page("preprocess")
    at.text_input(key="preprocess.classes.0.file").input("a.fa")
    at.text_input(key="preprocess.classes.1.name").input("other")
    at.text_input(key="preprocess.classes.1.file").input("b.fa")
    at.number_input(key="preprocess.window").set_value(20)
    at.text_input(key="preprocess.ratio").input("2:1:1")
    at.checkbox(key="preprocess.cache").uncheck().run()
    assert not _errors(at)
    assert not at.button(key="preprocess.run").disabled
    at.button(key="preprocess.run").click().run()
    store = JobStore(workspace)
    (job,) = store.list()
    assert job.stage == "preprocess" and job.status in ("queued", "running", "complete")
    deadline = time.monotonic() + 60
    while store.get(job.id).status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
    job = store.get(job.id)
    store.stop_worker()
    assert job.status == "complete", job.error
    saved = load_run_config(job.run_dir / "parameters.yaml")
    assert saved.classes == {"a": workspace / "a.fa", "other": workspace / "b.fa"}
    assert (saved.window, saved.ratio, saved.cache) == (20, "2:1:1", False)
    assert saved.out == workspace / "gennie-runs"
    at.run()
    assert any(
        f"Job {job.id}: preprocess" in m.value and "complete" in m.value for m in at.markdown
    )


def test_runs_page_shows_results(workspace):
    metrics = {
        "loss": 0.5,
        "accuracy": 0.75,
        "auroc": 0.8,
        "auprc": 0.7,
        "per_class": {"a": {"auroc": 0.8, "auprc": 0.7}, "b": {"auroc": 0.8, "auprc": 0.7}},
    }
    _fake_run(
        workspace / "runs" / "evaluate_1",
        "evaluate",
        **{
            "metrics.json": json.dumps(metrics),
            "roc_curve.tsv": "class\tfpr\ttpr\tthreshold\na\t0\t0\t1\na\t1\t1\t0\n",
            "pr_curve.tsv": "class\trecall\tprecision\tthreshold\na\t1\t0.5\t0\n",
            "confusion_matrix.tsv": "true\\predicted\ta\tb\na\t3\t1\nb\t0\t4\n",
            "predictions.tsv": "name\tp_a\tp_b\thighest\ns1\t0.9\t0.1\ta\ns2\t0.2\t0.8\tb\n",
        },
    )
    from PIL import Image

    (workspace / "runs" / "evaluate_1" / "logos").mkdir()
    Image.new("RGB", (4, 2), "red").save(workspace / "runs" / "evaluate_1" / "logos" / "a_1.png")
    at = _open(RUNS).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["run"]) == ["runs/evaluate_1"]
    assert list(table["stage"]) == ["evaluate"]
    charts = at.get("plotly_chart")
    assert len(charts) == 3  # ROC, PR, confusion matrix
    frames = [d.value for d in at.dataframe]
    assert any(list(f.columns) == ["name", "p_a", "p_b", "highest"] for f in frames)
    assert any(
        list(f.columns[:1]) == ["class"] and f.iloc[0]["class"] == "all (macro)" for f in frames
    )
    assert [img.captions for img in at.image] == [["a_1"]]  # the logo
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download predictions.tsv" in labels
    assert any(label.startswith("predictions.tsv") for label in labels)


def test_runs_page_shows_variant_effects(workspace):
    rows = (
        "chrom\tpos\tid\tref\talt\tstrand\tstatus\tref_a\talt_a\tdelta_a\tlogodds_a\trecord\n"
        "chr1\t10\trs1\tA\tG\t+\tscored\t0.9\t0.2\t-0.7\t-3.6\t1\n"
        "chr1\t20\trs2\tA\t<DEL>\t.\tskipped: symbolic allele <DEL>\t\t\t\t\t2\n"
        "chr1\t30\trs3\tC\tT\t.\tref_mismatch\t\t\t\t\t3\n"
    )
    _fake_run(
        workspace / "runs" / "variants_1",
        "variants",
        **{"variants.tsv": rows, "report.html": "<html><body>top effects</body></html>"},
    )
    at = _open(RUNS).run()
    assert not at.exception
    assert [m.value for m in at.metric][-4:] == ["1", "1", "0", "1"]
    (shown,) = [d.value for d in at.dataframe if "delta_a" in d.value.columns]
    assert shown["id"].tolist() == ["rs1"]  # scored rows first; the others on request
    at.multiselect(key="variants.status:" + str(workspace / "runs" / "variants_1")).select(
        "skipped"
    ).run()
    (shown,) = [d.value for d in at.dataframe if "delta_a" in d.value.columns]
    assert shown["id"].tolist() == ["rs1", "rs2"]
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download variants.tsv" in labels


def test_cancel_button_stops_a_running_job(workspace):
    import subprocess
    import sys

    from gennie.runs import read_status

    store = JobStore(workspace)
    job = store.submit(
        TrainConfig(dataset=workspace / "data", out=workspace / "runs"), start_worker=False
    )
    _fake_run(job.run_dir, "train", status="running")
    dump_config(TrainConfig(epochs=4), job.run_dir / "parameters.yaml")
    (job.run_dir / "metrics.tsv").write_text("epoch\tval_loss\n1\t0.5\n")
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    with store._db() as db:
        db.execute("UPDATE jobs SET status='running', pid=? WHERE id=?", (process.pid, job.id))
    at = _page("train")
    assert any(f"Job {job.id}: train" in m.value and "running" in m.value for m in at.markdown)
    assert at.get("progress")[0].proto.text == "25% — starting"  # 1 of 4 epochs
    at.button(key=f"cancel:{job.id}").click().run()
    assert process.wait(timeout=10) != 0
    assert store.get(job.id).status == "cancelled"
    assert read_status(job.run_dir)["status"] == "cancelled"
    assert any(f"Job {job.id}: train" in m.value and "cancelled" in m.value for m in at.markdown)


def test_uploaded_parameters_fill_the_page(workspace):
    text = "stage: predict\nmodel: runs/train_1\nsequences: [ACGT, GGCC]\nbatch_size: 32\n"
    at = _page("predict")
    at.file_uploader(key="predict.load.upload").upload("parameters.yaml", text.encode()).run()
    at.button(key="predict.load.upload_button").click().run()
    assert "Loaded parameters.yaml." in [s.value for s in at.success]
    assert at.text_input(key="predict.model").value == "runs/train_1"
    assert at.text_area(key="predict.sequences").value == "ACGT\nGGCC"
    assert at.number_input(key="predict.batch_size").value == 32
    assert at.checkbox(key="predict.attributions").value is False  # not in the file: default
    assert at.text_input(key="predict.out").value == "gennie-runs"
    wrong = "stage: train\nepochs: 3\n"
    at.file_uploader(key="predict.load.upload").set_value(("p.yaml", wrong.encode(), "text/yaml"))
    at.run()
    at.button(key="predict.load.upload_button").click().run()
    assert "this file holds train parameters; open the train page" in _errors(at)


def test_sidebar_upload_saves_into_the_workspace(workspace):
    at = _page("preprocess")
    at.sidebar.file_uploader(key="sidebar.upload").upload("mine.fa", b">s\nACGT\n").run()
    assert (workspace / "uploads" / "mine.fa").read_bytes() == b">s\nACGT\n"
    assert "Saved as `uploads/mine.fa`" in [s.value for s in at.sidebar.success]


def test_gui_command(tmp_path):
    from typer.testing import CliRunner

    from gennie.cli import app
    from gennie.gui import streamlit_command

    command = streamlit_command()
    assert command[1:5] == ["-m", "streamlit", "run", str(APP)]
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert command[command.index("--server.port") + 1] == "8501"
    (tmp_path / "file").write_text("x")
    result = CliRunner().invoke(app, ["gui", "--workspace", str(tmp_path / "file")])
    assert result.exit_code == 2
    assert "the workspace must be a folder" in result.output


def test_form_survives_a_reload_and_resets_to_defaults(workspace):
    first = _page("preprocess")
    first.text_input(key="preprocess.ratio").input("8:1:1")
    first.text_input(key="preprocess.classes.1.file").input("b.fa").run()
    reloaded = _page("preprocess")  # a new browser session on the same workspace
    assert reloaded.text_input(key="preprocess.ratio").value == "8:1:1"
    assert reloaded.text_input(key="preprocess.classes.1.file").value == "b.fa"
    reloaded.button(key="preprocess.load.reset").click().run()
    assert reloaded.text_input(key="preprocess.ratio").value == "7:1:1:1"
    assert reloaded.text_input(key="preprocess.classes.1.file").value == ""
    # the reset values are sent to the browser as values to show (set_value), not only
    # as defaults: it still shows, and would send back, what was typed before
    for key, shown in [("preprocess.ratio", "7:1:1:1"), ("preprocess.classes.1.file", "")]:
        assert reloaded.text_input(key=key).proto.set_value
        assert reloaded.text_input(key=key).proto.value == shown
    assert _page("preprocess").text_input(key="preprocess.ratio").value == "7:1:1:1"


def test_a_storage_password_is_not_saved_with_the_draft(workspace):
    page = _page("tune")
    page.text_input(key="tune.storage").input("postgresql://ana:s3cret@db.lab:5432/gennie").run()
    drafts = list((workspace / ".gennie" / "drafts").glob("tune.json"))
    assert drafts, "the draft was not saved"
    text = drafts[0].read_text()
    assert "s3cret" not in text and "postgresql://ana:***@db.lab:5432/gennie" in text


def _own_defaults_off(at: AppTest, prefix: str) -> list[str]:
    """Widgets under ``prefix`` whose own default (what the browser shows and sends back
    when it draws a widget it holds no value for) is not their value."""
    off = []
    widgets = [
        *(
            (w, w.proto.default if w.proto.HasField("default") else None, w.value)
            for w in at.number_input
        ),
        *((w, w.proto.default, w.value) for w in at.text_input),
        *((w, w.proto.default, w.value) for w in at.text_area),
        *((w, w.proto.default, w.value) for w in at.checkbox),
        *((w, w.options[w.proto.default], w.value) for w in at.selectbox),
        *((w, [w.options[i] for i in w.proto.default], w.value) for w in at.multiselect),
    ]
    for widget, own_default, value in widgets:
        if (widget.key or "").startswith(prefix) and own_default != value:
            off.append(f"{widget.key}: {own_default!r} != {value!r}")
    return off


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_field_is_created_with_its_value_as_its_own_default(workspace, stage):
    # The browser can fall back to a widget's own default when a run is cut short by the
    # next one before it drew the widget: with the value only in the session state, a
    # Train form once started with patience 1, min delta 0, seed 0 and no output folder
    # (the widgets' minimums and empty text).
    at = _page(stage)
    assert _own_defaults_off(at, f"{stage}.") == []
    if stage == "train":
        at.number_input(key="train.patience").set_value(7)
        at.text_input(key="train.out").input("elsewhere")
        at.selectbox(key="train.monitor").select("val_auroc").run()
        assert at.number_input(key="train.patience").proto.default == 7
        assert at.text_input(key="train.out").proto.default == "elsewhere"
        assert _own_defaults_off(at, "train.") == []


def test_the_runs_page_creates_its_jobs_setting_with_its_value(workspace):
    JobStore(workspace).parallel = 3
    at = _open(RUNS).run()
    assert at.number_input(key="runs.parallel").value == 3
    assert at.number_input(key="runs.parallel").proto.default == 3


# --------------------------------------------------------------------------- the stage's check


def _stage_problem(stage: str, field: str, **values) -> UserError:
    """The problem the stage's own check finds with ``field`` for these values."""
    config = STAGES[stage].config(**values)
    return next(p for p in STAGES[stage].checker()(config) if p.field.split(".")[0] == field)


def test_a_page_without_a_dataset_shows_the_stage_checks_message_at_the_dataset(workspace):
    expected = problem_text(_stage_problem("train", "dataset", out=workspace / "gennie-runs"))
    check = validate_page("train", {}, workspace)
    assert check.errors == {"dataset": expected} and check.missing == {"dataset"}
    assert not check.ok
    at = _page("train")
    assert expected in _infos(at)
    assert "Fill in to enable Run: dataset" in _infos(at)
    assert at.button(key="train.run").disabled


def test_the_pages_show_what_the_stage_check_finds_by_field(workspace, monkeypatch):
    found = [
        UserError("too many epochs for this dataset", field="epochs", hint="lower it"),
        UserError("a field of no page", field="nowhere"),
        UserError("the dataset has no test split", field="dataset.splits", file="d/x"),
        UserError("something about the whole run"),
    ]
    monkeypatch.setattr(Stage, "checker", lambda self: lambda config: found)
    check = validate_page("train", {"dataset": "d"}, workspace)
    assert check.errors["epochs"] == "too many epochs for this dataset  \nhint: lower it"
    assert check.errors["dataset"].startswith("not found: ")  # the path comes first
    assert check.general == ["a field of no page", "something about the whole run"]
    assert check.missing == set()
    check = validate_page("train", {}, workspace)
    assert check.errors["dataset"] == "the dataset has no test split (d/x)"
    assert check.missing == {"dataset"}
    at = _page("train")
    assert "too many epochs for this dataset  \nhint: lower it" in _errors(at)
    assert "something about the whole run" in _errors(at)
    assert "Fix the marked field(s) to enable Run: epochs" in [w.value for w in at.warning]


def test_model_errors_are_shown_by_field_without_reading_messages(workspace):
    values = {"split": "chromosome", "chromosomes": {"test": ["chr1"]}, "negatives": "shuffle"}
    values["negatives_name"] = "a"
    (workspace / "a.fa").write_text(FASTA_A)
    check = validate_page("preprocess", {**values, "classes": {"a": "a.fa"}}, workspace)
    assert check.errors["chromosomes"].startswith("a chromosome split needs chromosome lists")
    assert check.config is None


def test_the_app_navigates_by_the_page_table(workspace):
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Preprocess"]
    at.session_state[GOTO] = RUNS  # what "Show results" asks for
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Runs"]
    assert GOTO not in at.session_state


def test_the_layers_editor_fills_in_the_configured_default_preset(workspace):
    from gennie.config import PreprocessConfig
    from gennie.config.presets import preset_architecture

    preset = TrainConfig().preset  # the default, declared once in the model
    branches = PreprocessConfig().branches
    at = _page("train")
    at.checkbox(key="train.custom_architecture").check().run()
    fill = at.button(key="train.architecture.fill")
    assert fill.label == f"Fill in the layers of preset '{preset}' ({', '.join(branches)})"
    fill.click().run()
    filled = yaml.safe_load(at.session_state["train.architecture"])
    assert filled == preset_architecture(preset, branches).model_dump(mode="json")


# --------------------------------------------------------------------------- basic / advanced


@pytest.mark.parametrize("stage", list(STAGES))
def test_advanced_options_are_in_a_closed_expander(workspace, stage):
    from gennie.config.options import ADVANCED_PANEL

    at = _page(stage)
    (advanced,) = [e for e in at.expander if e.label == ADVANCED_PANEL]
    assert advanced.proto.expanded is False
    inside = {
        w.key
        for kind in (
            "number_input",
            "selectbox",
            "checkbox",
            "text_input",
            "text_area",
            "multiselect",
        )
        for w in getattr(advanced, kind)
    }
    values: dict = {}
    for ff in stage_options(stage):
        key = f"{stage}.{ff.name}"
        if ff.kind in ("classes", "chromosomes") or not visible(stage, ff.name, values):
            continue
        if ff.name == "architecture":
            continue  # drawn by the layer editor
        assert (key in inside) == ff.advanced, key


def test_a_problem_in_an_advanced_field_says_where_it_is(workspace, monkeypatch):
    found = [UserError("masking needs a wider window", field="mask")]
    monkeypatch.setattr(Stage, "checker", lambda self: lambda config: found)
    at = _page("train")
    assert "Fix the marked field(s) to enable Run: mask (mask under Advanced options)" in [
        w.value for w in at.warning
    ]
    assert "masking needs a wider window" in _errors(at)


# --------------------------------------------------------------------------- layer editor


def _layers(at: AppTest, section: str = "seq") -> list[dict]:
    """The layers of a section as the architecture field holds them now."""
    arch = yaml.safe_load(at.session_state["train.architecture"])
    return arch["common"] if section == "common" else arch["branches"][section]


def _layer_widget(at: AppTest, kind: str, suffix: str):
    (widget,) = [w for w in getattr(at, kind) if (w.key or "").endswith(suffix)]
    return widget


def test_layer_editor_adds_edits_reorders_and_removes_layers(workspace):
    at = _page("train")
    at.checkbox(key="train.custom_architecture").check().run()
    assert at.radio(key="train.architecture.view").value == "Layer editor"
    assert [m.value for m in at.main.markdown if m.value.startswith(("**Branch", "**Common"))] == [
        "**Branch seq**",
        "**Common part (after the branches)**",
    ]
    _layer_widget(at, "button", ".seq.add").click().run()  # a conv layer, the first type
    assert _layers(at) == [
        {
            "type": "conv",
            "filters": 32,
            "kernel_size": 8,
            "dilation": 1,
            "padding": "valid",
            "activation": "relu",
            "batch_norm": False,
            "dropout": 0.0,
        }
    ]
    _layer_widget(at, "number_input", ".seq.0.filters").set_value(16).run()
    _layer_widget(at, "selectbox", ".seq.0.padding").select("same").run()
    _layer_widget(at, "selectbox", ".seq.new").select("global_pool").run()
    _layer_widget(at, "button", ".seq.add").click().run()
    assert [layer["type"] for layer in _layers(at)] == ["conv", "global_pool"]
    assert (_layers(at)[0]["filters"], _layers(at)[0]["padding"]) == (16, "same")
    _layer_widget(at, "button", ".seq.1.up").click().run()
    assert [layer["type"] for layer in _layers(at)] == ["global_pool", "conv"]
    # the widgets follow their layers, not their places
    assert _layer_widget(at, "number_input", ".seq.1.filters").value == 16
    # a new type keeps the fields both types have (dropout), the others take defaults
    _layer_widget(at, "number_input", ".seq.0.dropout").set_value(0.25).run()
    _layer_widget(at, "selectbox", ".seq.0.type").select("pool").run()
    assert _layers(at)[0] == {"type": "pool", "kind": "max", "size": 2, "dropout": 0.25}
    _layer_widget(at, "selectbox", ".common.new").select("dense").run()
    _layer_widget(at, "button", ".common.add").click().run()
    _layer_widget(at, "button", ".seq.0.remove").click().run()
    assert [layer["type"] for layer in _layers(at)] == ["conv"]
    assert [layer["type"] for layer in _layers(at, "common")] == ["dense"]
    assert not at.exception
    # the same value, validated by the same model, is what Run would use
    check = validate_page(
        "train", {"architecture": yaml.safe_load(at.session_state["train.architecture"])}, workspace
    )
    assert "architecture" not in check.errors


def test_layer_editor_and_yaml_view_show_the_same_value(workspace):
    at = _page("train")
    at.checkbox(key="train.custom_architecture").check().run()
    at.button(key="train.architecture.fill").click().run()
    preset = _layers(at)
    assert _layer_widget(at, "selectbox", ".seq.0.type").value == preset[0]["type"]
    at.radio(key="train.architecture.view").set_value("YAML").run()
    text = at.text_area(key="train.architecture").value
    assert yaml.safe_load(text)["branches"]["seq"] == preset
    edited = text.replace(f"filters: {preset[0]['filters']}", "filters: 7", 1)
    at.text_area(key="train.architecture").input(edited).run()
    at.radio(key="train.architecture.view").set_value("Layer editor").run()
    assert _layer_widget(at, "number_input", ".seq.0.filters").value == 7
    # YAML that is no architecture: the editor says so and points to the YAML view
    at.radio(key="train.architecture.view").set_value("YAML").run()
    at.text_area(key="train.architecture").input("- just a list").run()
    at.radio(key="train.architecture.view").set_value("Layer editor").run()
    assert any("Fix them in the YAML view" in e for e in _errors(at))


def test_layer_types_and_fields_come_from_the_layer_schema():
    from gennie.config.layers import ConvLayer, DenseLayer, RecurrentLayer
    from gennie.gui.layers import edit, layer_models, new_layer, read_architecture

    assert layer_models("seq") == {
        "conv": ConvLayer,
        "pool": layer_models("seq")["pool"],
        "global_pool": layer_models("seq")["global_pool"],
    }
    assert list(layer_models("common")) == ["conv", "pool", "global_pool", "lstm", "gru", "dense"]
    assert layer_models("common")["gru"] is RecurrentLayer
    assert layer_models("common")["dense"] is DenseLayer
    assert new_layer("common", "gru", keep={"type": "dense", "units": 8, "activation": "tanh"}) == {
        "type": "gru",
        "units": 8,
        "bidirectional": True,
        "batch_norm": False,
        "dropout": 0.0,
    }
    arch = read_architecture("branches:\n  seq: [{type: conv}]\n", ["seq", "fold"])
    assert arch == {"branches": {"seq": [{"type": "conv"}], "fold": []}, "common": []}
    edit(arch, "seq", "down", 0)  # the last layer stays where it is
    edit(arch, "fold", "add", 0, "pool")
    assert arch["branches"]["fold"] == [{"type": "pool", "kind": "max", "size": 2, "dropout": 0.0}]
    with pytest.raises(ValueError, match="keys other than"):
        read_architecture("layers: []\n", ["seq"])


# --------------------------------------------------------------------------- styling


def test_the_theme_accent_is_not_the_error_red():
    from gennie.gui import PRIMARY_COLOUR, streamlit_command

    command = streamlit_command()
    assert command[command.index("--theme.primaryColor") + 1] == PRIMARY_COLOUR
    assert PRIMARY_COLOUR.lower() not in ("#ff4b4b", "red")  # Streamlit's default


def test_an_embedded_report_is_scaled_to_its_frame():
    from gennie.gui.results import MIN_ZOOM, fit_to_frame

    page = "<html><head><style>x{}</style></head><body><div>wide</div></body></html>"
    fitted = fit_to_frame(page)
    head, body = fitted.split("</head>")
    assert body == "<body><div>wide</div></body></html>"
    assert head.startswith("<html><head><style>x{}</style><style>html{overflow-x:auto}")
    assert f"Math.max(frame/wide,{MIN_ZOOM})" in head and "MIN_ZOOM" not in head
    assert fit_to_frame("<p>no head</p>").endswith("</script><p>no head</p>")


def test_label_options_come_right_after_the_labelled_input(workspace):
    def keys(at: AppTest) -> list[str]:
        """The keys of the page's widgets, top to bottom."""
        return [node.key for node in at.main if getattr(node, "key", None)]

    preprocess = keys(_page("preprocess"))
    assert preprocess.index("preprocess.input") < preprocess.index("preprocess.label_pattern")
    assert preprocess.index("preprocess.label_map") < preprocess.index("preprocess.genome")
    evaluate = keys(_page("evaluate"))
    assert evaluate.index("evaluate.input") < evaluate.index("evaluate.label_pattern")
