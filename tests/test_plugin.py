"""A branch type from outside gennie, through the whole pipeline, touching no gennie file.

The plug-in (``gcplugin.py``, written here) encodes the GC content of a sliding window
around each base as one channel, with its own option ``width``. It runs preprocess →
train → predict twice: registered in this process with ``register_branch()``, and
installed for the real CLI through the ``gennie.branches`` entry-point group (a
``gcplugin-0.1.dist-info`` folder on the subprocess's PYTHONPATH).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

PLUGIN = '''"""A gennie branch type: GC content in a sliding window, one channel."""

from typing import ClassVar

import numpy as np

from gennie.encode import BranchEncoder, WindowBatch


class GCEncoder(BranchEncoder):
    """Per base: the share of G and C among the ``width`` bases centred on it."""

    name: ClassVar[str] = "gc"
    channels = 1
    stored_dtype: ClassVar[np.dtype] = np.dtype(np.float32)

    def __init__(self, width: int = 5, **_: object) -> None:
        super().__init__(width=int(width))
        self.width = int(width)

    def encode(self, batch: WindowBatch) -> np.ndarray:
        if not batch.sequences:
            return np.zeros((0, 1, 0), dtype=np.float32)
        letters = np.array([list(s.upper()) for s in batch.sequences])
        gc = np.isin(letters, ["G", "C"]).astype(np.float32)
        kernel = np.ones(self.width, dtype=np.float32) / self.width
        smooth = np.stack([np.convolve(row, kernel, mode="same") for row in gc])
        return smooth[:, None, :].astype(np.float32)

    def stored_shape(self, window: int) -> tuple[int, ...]:
        return (1, window)

    def to_input(self, stored: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(stored, dtype=np.float32)
'''

WINDOW = 30
PROBE = "G" * 10 + "A" * 10 + "G" * 10
# G and C among the 7 bases centred on each base of PROBE (none beyond its ends).
PROBE_GC = np.array(
    [4, 5, 6, 7, 7, 7, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 7, 7, 7, 6, 5, 4]
)


def _data(folder: Path) -> dict[str, Path]:
    """Two FASTA classes of 20 records each, GC-rich and AT-rich, and a run config."""
    rng = np.random.default_rng(3)
    files = {}
    for name, weights in (("gc_rich", [0.1, 0.4, 0.4, 0.1]), ("at_rich", [0.4, 0.1, 0.1, 0.4])):
        records = ["".join(rng.choice(list("ACGT"), size=WINDOW, p=weights)) for _ in range(20)]
        if name == "gc_rich":
            records[0] = PROBE
        files[name] = folder / f"{name}.fa"
        files[name].write_text("".join(f">{name}{i}\n{s}\n" for i, s in enumerate(records)))
    return files


def _check_dataset(run_dir: Path) -> None:
    from gennie.dataset.store import Dataset

    dataset = Dataset(run_dir)
    assert dataset.branches == ["seq", "gc"]
    assert dataset.metadata.branches["gc"].model_dump() == {
        "channels": 1,
        "dtype": "float32",
        "width": 7,
    }
    samples = dataset.samples()
    probe = int(samples.loc[samples["name"] == "gc_rich0", "index"].iloc[0])
    np.testing.assert_allclose(dataset.array("gc")[probe, 0], PROBE_GC / 7, atol=1e-6)


def _check_bundle(run_dir: Path) -> None:
    bundle = yaml.safe_load((run_dir / "model" / "bundle.yaml").read_text())
    assert bundle["branches"] == ["seq", "gc"]
    assert bundle["inputs"]["gc"] == {"channels": 1, "length": WINDOW}
    assert bundle["preprocessing"]["branches"]["gc"] == {
        "channels": 1,
        "dtype": "float32",
        "width": 7,
    }


def _check_predictions(path: Path) -> None:
    table = pd.read_csv(path, sep="\t")
    assert table["sequence"].tolist() == [PROBE, "AT" * 15]
    total = table["p_gc_rich"] + table["p_at_rich"]
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


@pytest.fixture
def gc_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The plug-in module, imported from a folder outside gennie and registered."""
    from gennie.encode.registry import register_branch, unregister_branch

    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "gcplugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(folder))
    module = importlib.import_module("gcplugin")
    register_branch(module.GCEncoder)
    yield module.GCEncoder
    unregister_branch("gc")
    sys.modules.pop("gcplugin", None)


def test_plugin_registered_in_process(tmp_path, gc_plugin, one_thread):
    from gennie.config import PredictConfig, PreprocessConfig, TrainConfig
    from gennie.prediction.stage import predict
    from gennie.preprocessing.stage import preprocess
    from gennie.training.stage import train

    files = _data(tmp_path)
    out = tmp_path / "runs"
    dataset = preprocess(
        PreprocessConfig(
            classes=files,
            branches=["seq", "gc"],
            branch_options={"gc": {"width": 7}},
            window=WINDOW,
            out=out,
        )
    )
    _check_dataset(dataset.run_dir)
    model = train(
        TrainConfig(
            dataset=dataset.run_dir,
            preset="1layer",
            epochs=1,
            ensemble=1,
            batch_size=8,
            device="cpu",
            out=out,
        )
    )
    _check_bundle(model.run_dir)
    predicted = predict(
        PredictConfig(model=model.run_dir, sequences=[PROBE, "AT" * 15], device="cpu", out=out)
    )
    _check_predictions(predicted.run_dir / "predictions.tsv")


def _gennie(*args: object, cwd: Path, path: Path) -> dict:
    """Run ``python -m gennie ... --json`` with ``path`` on PYTHONPATH; its JSON answer."""
    env = dict(os.environ, MPLBACKEND="Agg", NO_COLOR="1", COLUMNS="120")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(path), env.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, "-m", "gennie", *(str(a) for a in args), "--json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_plugin_installed_through_the_entry_point_group(tmp_path):
    site = tmp_path / "site"
    info = site / "gcplugin-0.1.dist-info"
    info.mkdir(parents=True)
    (site / "gcplugin.py").write_text(PLUGIN)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gcplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[gennie.branches]\ngc = gcplugin:GCEncoder\n")
    _data(tmp_path)
    (tmp_path / "preprocess.yaml").write_text(
        yaml.safe_dump(
            {
                "classes": {"gc_rich": "gc_rich.fa", "at_rich": "at_rich.fa"},
                "branches": ["seq", "gc"],
                "branch_options": {"gc": {"width": 7}},
                "window": WINDOW,
            }
        )
    )
    common = {"cwd": tmp_path, "path": site}
    dataset = _gennie("preprocess", "--config", "preprocess.yaml", "--out", "runs", **common)
    _check_dataset(Path(dataset["run_dir"]))
    model = _gennie(
        "train", "--dataset", dataset["run_dir"], "--preset", "1layer", "--epochs", 1,
        "--ensemble", 1, "--batch-size", 8, "--device", "cpu", "--out", "runs", **common,
    )  # fmt: skip
    _check_bundle(Path(model["run_dir"]))
    predicted = _gennie(
        "predict", "--model", model["run_dir"], "--sequence", PROBE, "--sequence", "AT" * 15,
        "--device", "cpu", "--out", "runs", **common,
    )  # fmt: skip
    _check_predictions(Path(predicted["run_dir"]) / "predictions.tsv")
