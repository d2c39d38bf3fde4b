"""Model bundles and reference files from someone else: a bundle is data, not code.

One tiny model is trained once for the module (1 epoch, one network, ``1layer``,
window 40, 160 sequences per class of the PUM2 example); each test copies its train run
folder into a sandbox folder and tampers with the copy. Every crafted bundle must give
one :class:`~gennie.errors.UserError` naming ``bundle.yaml`` or the weights file and
the field, quickly (nothing is built that the bundle's size does not allow), and a few
go through the CLI (exit code 2, a JSON error, no traceback) while the sandbox is
watched for files written outside the run folder. The reference cases use the legacy
bundle of ``tests/data/legacy`` (genome, signal track, BED input): recorded files are
read only while their checksum is the recorded one, and nothing is written beside a
genome the user did not give. The secret cases check that a tune storage password is
in no saved form and comes from the environment.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from gennie.cli import app
from gennie.config import PredictConfig, PreprocessConfig, TrainConfig, TuneConfig, dump_config
from gennie.dataset.inputs import InputMapper
from gennie.dataset.names import name_problem, safe_file_name
from gennie.errors import UserError
from gennie.example import rbp_example
from gennie.model.bundle import load_bundle
from gennie.model.loading import load_model

LEGACY = Path(__file__).parent / "data" / "legacy"
SEQUENCE = "ACGTACGTTGTAAATAACGTACGTACGTACGTACGTACGT"


@pytest.fixture(scope="module", autouse=True)
def cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """gennie's cache folder (checksums, indexes of recorded genomes) for the module."""
    folder = tmp_path_factory.mktemp("gennie-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENNIE_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The train run folder of a tiny model (trained once for the module)."""
    from gennie.preprocessing.stage import preprocess
    from gennie.training.stage import train

    work = tmp_path_factory.mktemp("tiny")
    classes = {}
    for label, path in rbp_example()["train"].items():
        with gzip.open(path, "rt") as handle:
            lines = handle.read().splitlines()[:320]
        classes[label] = work / f"{label}.fa"
        classes[label].write_text("\n".join(lines) + "\n")
    dataset = preprocess(PreprocessConfig(classes=classes, window=40, jobs=1, out=work / "runs"))
    model = train(
        TrainConfig(
            dataset=dataset.run_dir,
            epochs=1,
            ensemble=1,
            preset="1layer",
            batch_size=32,
            device="cpu",
            out=work / "runs",
        )
    )
    return model.run_dir


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A folder whose content is listed before and after a run."""
    folder = tmp_path / "sandbox"
    folder.mkdir()
    return folder


def listing(folder: Path) -> set[str]:
    """Every file and folder under ``folder``, relative to it."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def copy_run(tiny: Path, sandbox: Path) -> Path:
    """A copy of the tiny model's train run folder in the sandbox."""
    run = sandbox / "run"
    shutil.copytree(tiny, run, ignore=shutil.ignore_patterns("tensorboard", "*.png", "*.svg"))
    return run


def edit_yaml(**changes: object) -> Callable[[Path], None]:
    """A tampering that sets (dotted) fields of bundle.yaml; ``...`` deletes one."""

    def edit(bundle: Path) -> None:
        data = yaml.safe_load((bundle / "bundle.yaml").read_text())
        for dotted, value in changes.items():
            *parents, last = dotted.split(".")
            target = data
            for key in parents:
                target = target[key]
            if value is ...:
                del target[last]
            else:
                target[last] = value
        (bundle / "bundle.yaml").write_text(yaml.safe_dump(data))

    return edit


def write_yaml_text(text: str | bytes) -> Callable[[Path], None]:
    """A tampering that replaces bundle.yaml with ``text``."""

    def edit(bundle: Path) -> None:
        path = bundle / "bundle.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())

    return edit


def edit_weights(change: Callable[[dict], dict]) -> Callable[[Path], None]:
    """A tampering that rewrites weights.safetensors with ``change(state)``."""

    def edit(bundle: Path) -> None:
        path = bundle / "weights.safetensors"
        save_file(change(load_file(str(path))), str(path))

    return edit


def cut_weights(size: int) -> Callable[[Path], None]:
    """A tampering that keeps the first ``size`` bytes of the weights file."""

    def edit(bundle: Path) -> None:
        path = bundle / "weights.safetensors"
        path.write_bytes(path.read_bytes()[:size])

    return edit


def link_outside(name: str, target: str) -> Callable[[Path], None]:
    """A tampering that makes a bundle file a link to ``target``."""

    def edit(bundle: Path) -> None:
        (bundle / name).unlink()
        (bundle / name).symlink_to(target)

    return edit


def alias_bomb(bundle: Path) -> None:
    """Nine lines of YAML aliases standing for a billion values."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    (bundle / "bundle.yaml").write_text("\n".join(lines) + "\n")


def too_many_layers(bundle: Path) -> None:
    convs = [{"type": "conv", "filters": 1, "kernel_size": 1} for _ in range(65)]
    edit_yaml(**{"architecture.branches.seq": [*convs, {"type": "global_pool"}]})(bundle)


def huge_network(bundle: Path) -> None:
    layers = [{"type": "conv", "filters": 4096, "kernel_size": 1, "padding": "same"}]
    edit_yaml(
        **{
            "architecture.branches.seq": layers,
            "architecture.common": [{"type": "dense", "units": 65536}],
        }
    )(bundle)


def lying_header(bundle: Path) -> None:
    """A safetensors header that promises a tensor of 10^12 values."""
    header = json.dumps(
        {
            "output.weight": {
                "dtype": "F32",
                "shape": [10**6, 10**6],
                "data_offsets": [0, 4 * 10**12],
            }
        }
    )
    (bundle / "weights.safetensors").write_bytes(
        len(header).to_bytes(8, "little") + header.encode() + b"\0" * 64
    )


BUNDLE_CASES: dict[str, tuple[Callable[[Path], None], str, str]] = {
    # name: (tampering, file named, words of the message naming the field)
    "window is not a number": (
        edit_yaml(**{"preprocessing.window": "abc"}),
        "bundle.yaml",
        "preprocessing.window",
    ),
    "window far too long": (
        edit_yaml(**{"preprocessing.window": 10**9}),
        "bundle.yaml",
        "preprocessing.window",
    ),
    "no inputs": (edit_yaml(inputs=...), "bundle.yaml", "inputs: Field required"),
    "classes as a string": (
        edit_yaml(classes="bound"),
        "bundle.yaml",
        "classes: Input should be a valid list",
    ),
    "class name is a path": (
        edit_yaml(classes=["/tmp/x", "negative"]),
        "bundle.yaml",
        "classes: class name",
    ),
    "class name climbs up": (
        edit_yaml(classes=["../../x", "negative"]),
        "bundle.yaml",
        "classes: class name",
    ),
    "class name starts with a dot": (
        edit_yaml(classes=[".x", "negative"]),
        "bundle.yaml",
        "may not start with a dot",
    ),
    "class name too long": (
        edit_yaml(classes=["a" * 101, "negative"]),
        "bundle.yaml",
        "at most 100 characters",
    ),
    "class listed twice": (edit_yaml(classes=["a", "a"]), "bundle.yaml", "listed twice"),
    "one class": (edit_yaml(classes=["a"]), "bundle.yaml", "classes: List should have at least 2"),
    "ensemble of 200000": (edit_yaml(ensemble=200000), "bundle.yaml", "ensemble may be at most 20"),
    "ensemble as text": (
        edit_yaml(ensemble="two"),
        "bundle.yaml",
        "ensemble must be a positive whole number",
    ),
    "21 centre networks": (
        edit_yaml(centre_networks=21),
        "bundle.yaml",
        "centre_networks may be at most 20",
    ),
    "centre networks without a window": (
        edit_yaml(centre_networks=2),
        "bundle.yaml",
        "centre_window: a centre window of 0 must be",
    ),
    "channels differ from the encoder": (
        edit_yaml(**{"inputs.seq.channels": 5}),
        "bundle.yaml",
        "inputs.seq.channels",
    ),
    "input length is not the window": (
        edit_yaml(**{"inputs.seq.length": 41}),
        "bundle.yaml",
        "inputs.seq.length",
    ),
    "channels far too many": (
        edit_yaml(**{"inputs.seq.channels": 10**7}),
        "bundle.yaml",
        "inputs.seq.channels",
    ),
    "branch name is a path": (
        edit_yaml(branches=["../seq"]),
        "bundle.yaml",
        "branches: branch name",
    ),
    "unknown field": (
        edit_yaml(code="import os"),
        "bundle.yaml",
        "code: Extra inputs are not permitted",
    ),
    "unknown layer type": (
        edit_yaml(**{"architecture.common": [{"type": "eval"}]}),
        "bundle.yaml",
        "architecture.common",
    ),
    "65 layers": (too_many_layers, "bundle.yaml", "architecture: branches.seq has 66 layers"),
    "network too large to build": (huge_network, "bundle.yaml", "too large to build"),
    "alias bomb": (alias_bomb, "bundle.yaml", "aliases (*name) are not allowed"),
    "python object tag": (
        write_yaml_text("classes: !!python/object/apply:os.system [id]\n"),
        "bundle.yaml",
        "not YAML",
    ),
    "not UTF-8": (write_yaml_text(b"\xff\xfe\x00classes"), "bundle.yaml", "not UTF-8 text"),
    "a list, not fields": (write_yaml_text("- a\n- b\n"), "bundle.yaml", "holds list, not fields"),
    "nested too deeply": (
        write_yaml_text("[" * 50000 + "]" * 50000),
        "bundle.yaml",
        "nested too deeply",
    ),
    "larger than 1 MB": (
        write_yaml_text("# x\n" * 300000),
        "bundle.yaml",
        "a bundle.yaml has at most",
    ),
    "weights truncated": (cut_weights(300), "weights.safetensors", "damaged or incomplete"),
    "weights empty": (cut_weights(0), "weights.safetensors", "damaged or incomplete"),
    "weights header lies": (lying_header, "weights.safetensors", "damaged or incomplete"),
    "weights of another shape": (
        edit_weights(lambda s: s | {"output.weight": s["output.weight"][:, :5].contiguous()}),
        "weights.safetensors",
        "tensor 'output.weight' has shape (2, 5)",
    ),
    "weights without a tensor": (
        edit_weights(lambda s: {k: v for k, v in s.items() if k != "output.bias"}),
        "weights.safetensors",
        "no tensor 'output.bias'",
    ),
    "weights with an extra tensor": (
        edit_weights(lambda s: s | {"payload": s["output.bias"].clone()}),
        "weights.safetensors",
        "tensor 'payload' is not part",
    ),
    "three classes, weights for two": (
        edit_yaml(classes=["a", "b", "c"]),
        "weights.safetensors",
        "needs (3, 32)",
    ),
    "weights link outside the folder": (
        link_outside("weights.safetensors", "/etc/hostname"),
        "weights.safetensors",
        "link to a file outside the model folder",
    ),
    "bundle.yaml link outside the folder": (
        link_outside("bundle.yaml", "/etc/hostname"),
        "bundle.yaml",
        "link to a file outside the model folder",
    ),
}


@pytest.mark.parametrize("case", list(BUNDLE_CASES))
def test_crafted_bundle_is_one_user_error(case: str, tiny: Path, sandbox: Path) -> None:
    tamper, file, words = BUNDLE_CASES[case]
    run = copy_run(tiny, sandbox)
    tamper(run / "model")
    before = listing(sandbox)
    started = time.monotonic()
    with pytest.raises(UserError) as caught:
        load_model(PredictConfig(model=run, device="cpu"))
    assert time.monotonic() - started < 20
    error = caught.value
    assert error.file == str(run / "model" / file)
    assert error.field == "model"
    assert words in error.message, error.message
    assert listing(sandbox) == before


def test_the_untampered_copy_loads(tiny: Path, sandbox: Path) -> None:
    network, spec = load_bundle(copy_run(tiny, sandbox))
    assert spec.classes == ["positive", "negative"] and spec.window == 40
    assert not network.training


@pytest.mark.parametrize("status", ["failed", "running", "cancelled"])
@pytest.mark.parametrize("given", ["run folder", "model folder"])
def test_model_of_an_unfinished_run_is_refused(
    status: str, given: str, tiny: Path, sandbox: Path
) -> None:
    run = copy_run(tiny, sandbox)
    info = json.loads((run / "run.json").read_text())
    # A live process id, so that a "running" run is not found to have died.
    (run / "run.json").write_text(json.dumps(info | {"status": status, "pid": os.getpid()}))
    model = run if given == "run folder" else run / "model"
    with pytest.raises(UserError) as caught:
        load_model(PredictConfig(model=model, device="cpu"))
    assert caught.value.field == "model"
    assert caught.value.file == str(run)
    message = caught.value.message
    assert any(words in message for words in ("did not finish", "interrupted", status)), message


def test_bare_bundle_folder_is_accepted(tiny: Path, sandbox: Path) -> None:
    bundle = sandbox / "bundle"
    shutil.copytree(tiny / "model", bundle)
    assert load_model(PredictConfig(model=bundle, device="cpu")).spec.classes == [
        "positive",
        "negative",
    ]


def test_unreadable_run_json_is_refused(tiny: Path, sandbox: Path) -> None:
    run = copy_run(tiny, sandbox)
    (run / "run.json").write_text("{not json")
    with pytest.raises(UserError, match="cannot be read"):
        load_model(PredictConfig(model=run / "model", device="cpu"))


# --------------------------------------------------------------------------- CLI


def cli(*args: object):
    """``gennie ARGS --json`` in this process (the console handler a previous call left
    on the ``gennie`` logger writes to that call's closed stream: it goes first)."""
    logger = logging.getLogger("gennie")
    for handler in list(logger.handlers):
        if type(handler) is logging.StreamHandler:
            logger.removeHandler(handler)
    return CliRunner().invoke(app, [*(str(a) for a in args), "--json"])


@pytest.mark.parametrize(
    "case",
    [
        "window is not a number",
        "class name is a path",
        "weights truncated",
        "ensemble of 200000",
        "no inputs",
        "weights of another shape",
    ],
)
def test_cli_predict_with_a_crafted_bundle(case: str, tiny: Path, sandbox: Path) -> None:
    tamper, file, words = BUNDLE_CASES[case]
    run = copy_run(tiny, sandbox)
    tamper(run / "model")
    before = listing(sandbox.parent)
    result = cli("predict", "--model", run, "--sequence", SEQUENCE, "--out", sandbox / "out")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["file"] == str(run / "model" / file) and answer["field"] == "model"
    assert words in answer["error"]
    assert listing(sandbox.parent) - before <= {"sandbox/out"}


def test_cli_refuses_a_running_train_run(tiny: Path, sandbox: Path) -> None:
    run = copy_run(tiny, sandbox)
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps(info | {"status": "failed"}))
    result = cli("predict", "--model", run / "model", "--sequence", SEQUENCE, "--out", sandbox)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "did not finish" in json.loads(result.stdout.strip().splitlines()[-1])["error"]


def test_predict_with_attributions_writes_only_in_its_run_folder(tiny: Path, sandbox: Path) -> None:
    run = copy_run(tiny, sandbox)
    before = listing(sandbox.parent)
    result = cli(
        "predict", "--model", run, "--sequence", SEQUENCE, "--attributions", "--steps", "4",
        "--top", "1", "--device", "cpu", "--out", sandbox / "out",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run_dir = Path(json.loads(result.stdout)["run_dir"])
    new = listing(sandbox.parent) - before
    outside = {p for p in new if run_dir not in (sandbox.parent / p).parents}
    # the output folder's runs table (and its lock) beside the run folder, nothing else
    assert outside == {
        "sandbox/out",
        f"sandbox/out/{run_dir.name}",
        "sandbox/out/predict_parameters.tsv",
        "sandbox/out/.predict_parameters.lock",
    }, outside
    assert {p.name for p in (run_dir / "logos").iterdir()} >= {"positive_01_row1.png"}


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "text",
    ["/tmp/x", "../../etc/passwd", "..", ".", "", ".hidden", "a\\b", "x" * 500, "naïve/é", "a\0b"],
)
def test_safe_file_name_stays_in_its_folder(text: str, tmp_path: Path) -> None:
    name = safe_file_name(text)
    assert name_problem(name) is None and len(name) <= 80
    assert (tmp_path / name).resolve().parent == tmp_path.resolve()


def test_safe_file_name_keeps_safe_names_and_tells_others_apart() -> None:
    assert safe_file_name("bound") == "bound" and safe_file_name("a+b-1.x") == "a+b-1.x"
    assert safe_file_name("a/b") != safe_file_name("a_b")
    assert safe_file_name("/tmp/x").startswith("_tmp_x-")


def test_report_logos_of_an_unsafe_class_name_stay_in_the_folder(tmp_path: Path) -> None:
    from gennie.attribution.report import ReportSample, branch_views, write_logos
    from gennie.encode import make_encoder

    sample = ReportSample(
        section="../../outside", rank=1, row=0, label="x", probabilities={"a": 1.0},
        target="a", score=0.0, baseline_score=0.0, delta=0.0,
        inputs={"seq": np.eye(4, 6, dtype=np.float32)}, values={"seq": np.zeros((4, 6))},
    )  # fmt: skip
    folder = tmp_path / "run" / "logos"
    written = write_logos(folder, [sample], branch_views({"seq": make_encoder("seq")}, "dna"))
    assert all(p.parent == folder for p in written)
    assert listing(tmp_path) == {"run", "run/logos", *(f"run/logos/{p.name}" for p in written)}


# --------------------------------------------------------------------------- baseline


@pytest.mark.parametrize(
    ("arrays", "words"),
    [
        ({"seq": np.array([{"code": 1}] * 4, dtype=object)}, "holds Python objects"),
        ({"seq": np.array([["A"] * 40] * 4)}, "not numbers"),
        ({"seq": np.zeros((4, 7))}, "has shape (4, 7), expected (4, 40)"),
        ({"fold": np.zeros((3, 40))}, "no array for branch 'seq'"),
    ],
)
def test_baseline_file_is_read_as_numbers_only(arrays: dict, words: str, tmp_path: Path) -> None:
    from gennie.attribution.attributions import read_baseline_file

    path = tmp_path / "baseline.npz"
    np.savez(path, **arrays)
    with pytest.raises(UserError) as caught:
        read_baseline_file(path, {"seq": (4, 40)})
    assert caught.value.field == "baseline_file" and caught.value.file == str(path)
    assert words in caught.value.message


def test_pickled_baseline_through_the_cli(tiny: Path, sandbox: Path) -> None:
    path = sandbox / "baseline.npy"
    np.save(path, np.array([object()], dtype=object), allow_pickle=True)
    result = cli(
        "predict", "--model", tiny, "--sequence", SEQUENCE, "--attributions", "--baseline",
        "file", "--baseline-file", path, "--out", sandbox / "out",
    )  # fmt: skip
    assert result.exit_code == 2 and "Traceback" not in result.output
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["field"] == "baseline_file" and answer["file"] == str(path)


# --------------------------------------------------------------------------- references


@pytest.fixture
def legacy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the legacy folder as the working folder (its bundle records paths
    relative to it): genome.fa, track.wig, query.bed and the model."""
    folder = tmp_path / "legacy"
    shutil.copytree(LEGACY, folder)
    monkeypatch.chdir(folder)
    return folder


def legacy_predict(legacy: Path, **options: object):
    """Predict the legacy query with the legacy model."""
    from gennie.prediction.stage import predict

    config = PredictConfig(
        model=legacy / "model", input=legacy / "query.bed", device="cpu", out=legacy / "runs",
        **options,
    )  # fmt: skip
    return predict(config)


def set_recorded(legacy: Path, **changes: object) -> None:
    edit_yaml(**{f"preprocessing.references.{k}": v for k, v in changes.items()})(
        legacy / "model" / "model"
    )


def test_recorded_references_are_used_while_unchanged(legacy: Path, cache_dir: Path) -> None:
    result = legacy_predict(legacy)
    assert result.summary["predictions"] == 6
    assert not (legacy / "genome.fa.fai").exists()  # indexed in gennie's cache folder
    assert list(cache_dir.glob("genomes/*/genome.fa.fai"))


def other_genome(folder: Path) -> None:
    (folder / "genome.fa").write_text(">chr1\nACGT\n")


def no_genome(folder: Path) -> None:
    (folder / "genome.fa").unlink()


def genome_is_a_device(folder: Path) -> None:
    set_recorded(folder, **{"genome.file": "/dev/zero"})


def genome_without_checksum(folder: Path) -> None:
    set_recorded(folder, **{"genome.md5": None})


def other_track(folder: Path) -> None:
    (folder / "track.wig").write_text("fixedStep chrom=chr1 start=1 step=1\n1\n")


def track_is_a_pipe(folder: Path) -> None:
    (folder / "track.wig").unlink()
    os.mkfifo(folder / "track.wig")


def track_of_another_checksum(folder: Path) -> None:
    set_recorded(folder, conservation=[{"file": "track.wig", "md5": "0" * 32}])


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (other_genome, "genome", "has changed since training"),
        (no_genome, "genome", "is not there"),
        (genome_is_a_device, "genome", "/dev/zero is not there"),
        (genome_without_checksum, "genome", "no recorded checksum"),
        (other_track, "conservation", "has changed since training"),
        (track_is_a_pipe, "conservation", "is not there"),
        (track_of_another_checksum, "conservation", "has changed"),
    ],
)
def test_changed_recorded_reference_asks_for_the_file(
    change: Callable[[Path], None], field: str, words: str, legacy: Path
) -> None:
    change(legacy)
    started = time.monotonic()
    with pytest.raises(UserError) as caught:
        legacy_predict(legacy)
    assert time.monotonic() - started < 20
    assert caught.value.field == field and words in caught.value.message, caught.value
    assert f"--{field}" in caught.value.hint
    assert not (legacy / "genome.fa.fai").exists()


def test_given_genome_of_another_checksum_is_a_warning(
    legacy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other = legacy / "other.fa"
    other.write_text((legacy / "genome.fa").read_text() + ">chrX\nACGT\n")
    with caplog.at_level(logging.WARNING, logger="gennie.inputs"):
        result = legacy_predict(legacy, genome=other, conservation=[legacy / "track.wig"])
    assert result.summary["predictions"] == 6
    warning = [r.getMessage() for r in caplog.records if r.name == "gennie.inputs"]
    assert len(warning) == 1
    assert "other.fa" in warning[0] and "genome.fa" in warning[0]
    assert "111fffc68630eba7323e064478ade8a4" in warning[0]


def test_cli_asks_for_the_genome(legacy: Path) -> None:
    (legacy / "genome.fa").write_text(">chr1\nACGT\n")
    result = cli(
        "predict",
        "--model",
        legacy / "model",
        "--input",
        legacy / "query.bed",
        "--out",
        legacy / "runs",
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["field"] == "genome" and "--genome" in answer["hint"]


def test_checksum_is_computed_once(legacy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gennie.dataset.windows_cache as windows_cache

    read: list[str] = []
    real = windows_cache.md5sum

    def counting(path: Path) -> str:
        read.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(windows_cache, "md5sum", counting)
    for _ in range(2):
        with InputMapper(load_bundle(legacy / "model")[1]) as mapper:
            mapper.checksum(legacy / "genome.fa")
    assert read.count("genome.fa") == 1


# --------------------------------------------------------------------------- secrets

SECRET = "pw-s3cr3t"
URL = f"postgresql://gennie:{SECRET}@db.example.org:5432/studies"


def test_every_dump_of_a_tune_config_masks_the_password(tmp_path: Path) -> None:
    from gennie.config.loading import config_to_dict

    config = TuneConfig(dataset=tmp_path, storage=URL)
    assert config.storage == URL and config.storage_password() == SECRET
    masked = "postgresql://gennie:***@db.example.org:5432/studies"
    assert config.model_dump()["storage"] == masked
    assert config.model_dump(mode="json")["storage"] == masked
    assert SECRET not in config.model_dump_json() and SECRET not in repr(config)
    assert config_to_dict(config)["storage"] == masked
    dump_config(config, tmp_path / "parameters.yaml")
    assert SECRET not in (tmp_path / "parameters.yaml").read_text()
    query = TuneConfig(dataset=tmp_path, storage=f"postgresql://h/db?password={SECRET}")
    assert SECRET not in query.model_dump_json()


def test_runs_table_masks_the_password(tmp_path: Path) -> None:
    from gennie.runs import Run, append_parameters_row

    config = TuneConfig(dataset=tmp_path, storage=URL, out=tmp_path)
    table = append_parameters_row(Run(tmp_path / "tune_x", config, {"study": "s"}))
    text = table.read_text()
    assert SECRET not in text and "gennie:***@db.example.org" in text


def test_job_folder_has_no_password_and_the_job_gets_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gennie.jobs import JobStore

    monkeypatch.delenv("GENNIE_STORAGE_PASSWORD", raising=False)
    monkeypatch.setattr(os, "environ", dict(os.environ))  # the GUI process's environment
    store = JobStore(tmp_path / "workspace")
    job = store.submit(TuneConfig(dataset=tmp_path, storage=URL, out=tmp_path / "runs"), False)
    saved = [p.read_bytes() for p in (tmp_path / "workspace").rglob("*") if p.is_file()]
    assert saved and not any(SECRET.encode() in content for content in saved)
    assert "***" in job.parameters.read_text()
    assert os.environ["GENNIE_STORAGE_PASSWORD"] == SECRET  # inherited by the worker


def test_masked_url_takes_the_password_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gennie.search.study import storage_url, with_password

    saved = TuneConfig.model_validate(TuneConfig(dataset=tmp_path, storage=URL).model_dump())
    assert saved.storage == "postgresql://gennie:***@db.example.org:5432/studies"
    monkeypatch.setenv("GENNIE_STORAGE_PASSWORD", SECRET)
    assert SECRET in storage_url(saved, tmp_path)
    assert with_password(URL) == URL  # a password given in the URL stays
    assert with_password("sqlite:///study.db") == "sqlite:///study.db"
    query = with_password("postgresql://h/db?password=***")
    assert f"password={SECRET}" in query


def test_masked_url_without_the_password_is_a_user_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gennie.search.study import with_password

    for name in ("GENNIE_STORAGE_PASSWORD", "PGPASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "absent"))
    with pytest.raises(UserError) as caught:
        with_password("postgresql://gennie:***@db.example.org/studies")
    assert caught.value.field == "storage" and "GENNIE_STORAGE_PASSWORD" in caught.value.hint
    assert SECRET not in str(caught.value)
    monkeypatch.setenv("PGPASSWORD", "x")  # libpq reads it when the URL has no password
    assert with_password("postgresql://gennie:***@db/studies") == "postgresql://gennie@db/studies"


def test_cli_rerun_of_a_masked_configuration_names_the_variable(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GENNIE_STORAGE_PASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "absent"))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    dataset = (
        json.loads((tiny / "run.json").read_text()).get("dataset")
        or yaml.safe_load((tiny / "parameters.yaml").read_text())["dataset"]
    )
    config = TuneConfig(dataset=dataset, storage=URL, out=tmp_path / "runs", n_trials=1)
    dump_config(config, tmp_path / "parameters.yaml")
    result = cli("run", tmp_path / "parameters.yaml")
    assert result.exit_code == 2 and "Traceback" not in result.output
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["field"] == "storage" and "GENNIE_STORAGE_PASSWORD" in answer["hint"]
    for path in (tmp_path / "runs").rglob("*"):
        assert not path.is_file() or SECRET.encode() not in path.read_bytes()
