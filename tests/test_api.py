"""The Python API: stage functions importable from ``gennie`` whatever was imported first."""

import subprocess
import sys

SCRIPT = """
import gennie.training.module, gennie.scoring.metrics, gennie.prediction.stage
from gennie import evaluate, predict, train
from gennie.config import EvaluateConfig, PredictConfig, TrainConfig
from gennie.errors import UserError

for stage, config in ((train, TrainConfig(dataset="no-such-dataset")),
                      (evaluate, EvaluateConfig(model="no-such-model")),
                      (predict, PredictConfig(model="no-such-model", sequences=["ACGT"]))):
    try:
        stage(config)
    except UserError as exc:
        print(exc.to_dict()["field"], exc.to_dict()["error"])
"""


def test_stage_functions_callable_after_subpackage_import(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    lines = done.stdout.splitlines()
    assert lines == [
        "dataset folder not found",
        "input no data to evaluate",
        "model model not found",
    ]
