"""Training in bfloat16 mixed precision (``precision: bf16``)."""

import json
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import yaml
from cli_run import run_gennie
from planted import planted_motif_dataset
from pydantic import ValidationError

from gennie.config import TrainConfig, TuneConfig
from gennie.model.bundle import load_bundle
from gennie.model.inference import lightning_precision
from gennie.training.stage import train

pytestmark = pytest.mark.usefixtures("one_thread")


class ConvDtypes(pl.Callback):
    """Records the dtype of the first convolution's output in the training and validation
    steps (the dead-network check and the test evaluation after training are float32)."""

    def __init__(self) -> None:
        self.seen: dict[str, set] = {"train": set(), "validation": set()}
        self.step: str | None = None

    def on_fit_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        conv = next(m for m in module.network.modules() if isinstance(m, torch.nn.Conv1d))

        def record(_module, _inputs, output) -> None:
            if self.step:
                self.seen[self.step].add(output.dtype)

        conv.register_forward_hook(record)

    def on_train_batch_start(self, *args) -> None:
        self.step = "train"

    def on_validation_batch_start(self, *args) -> None:
        self.step = "validation"

    def on_train_batch_end(self, *args) -> None:
        self.step = None

    on_validation_batch_end = on_train_batch_end


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("precision")
    return {"work": work, "dataset": planted_motif_dataset(work, 100, seed=3)}


def test_the_default_is_float32_and_other_precisions_are_refused() -> None:
    assert TrainConfig().precision == "32" and TuneConfig().precision == "32"
    assert lightning_precision("32") == "32-true"
    assert lightning_precision("bf16") == "bf16-mixed"
    with pytest.raises(ValidationError, match="precision"):
        TrainConfig(precision="16")


@pytest.mark.parametrize(("precision", "dtype"), [("bf16", torch.bfloat16), ("32", torch.float32)])
def test_bf16_layers_compute_in_bfloat16_and_the_weights_stay_float32(
    planted: dict, precision: str, dtype: torch.dtype
) -> None:
    dtypes = ConvDtypes()
    result = train(
        TrainConfig(
            dataset=planted["dataset"], preset="1layer", ensemble=1, epochs=2,
            early_stopping=False, precision=precision, out=planted["work"],
            name=f"dtypes-{precision}",
        ),
        [dtypes],
    )  # fmt: skip
    assert dtypes.seen == {"train": {dtype}, "validation": {dtype}}
    network, _ = load_bundle(result.run_dir)
    assert {p.dtype for p in network.parameters()} == {torch.float32}
    log = (result.run_dir / "gennie.log").read_text()
    assert ("bfloat16 mixed precision" in log) == (precision == "bf16")


def test_cli_trains_in_bf16_and_saves_the_choice(planted: dict) -> None:
    done = run_gennie(
        "train", "--dataset", planted["dataset"], "--preset", "1layer", "--ensemble", "1",
        "--epochs", "2", "--precision", "bf16", "--threads", "1", "--out", planted["work"],
        "--name", "cli-bf16", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run = Path(json.loads(done.stdout)["run_dir"])
    assert yaml.safe_load((run / "parameters.yaml").read_text())["precision"] == "bf16"
    assert "device cpu, bfloat16 mixed precision)" in (run / "gennie.log").read_text()


def test_cli_refuses_an_unknown_precision(planted: dict) -> None:
    done = run_gennie(
        "train", "--dataset", planted["dataset"], "--precision", "16", "--out", planted["work"]
    )
    assert done.returncode == 2
    assert "precision" in done.stderr and "'32' or 'bf16'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_device_without_bfloat16_arithmetic_gets_a_warning(
    planted: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gennie.training.stage.fast_bfloat16", lambda device: False)
    result = train(
        TrainConfig(
            dataset=planted["dataset"], preset="1layer", ensemble=1, epochs=1,
            precision="bf16", out=planted["work"], name="slow-bf16",
        )
    )  # fmt: skip
    log = (result.run_dir / "gennie.log").read_text()
    assert "precision bf16: this CPU has no bfloat16 arithmetic" in log


def test_a_cpu_whose_bfloat16_support_cannot_be_read_counts_as_without(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gennie.model.inference import fast_bfloat16

    cpu = torch.device("cpu")
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert fast_bfloat16(cpu) is True
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert fast_bfloat16(cpu) is False

    def unreadable() -> bool:
        raise RuntimeError("no oneDNN in this build")

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", unreadable)
    assert fast_bfloat16(cpu) is False
