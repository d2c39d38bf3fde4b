"""``gennie quickstart``: the whole pipeline on the bundled example data.

``rbp`` (default): real PUM2 PAR-CLIP sites from RBP24 (FASTA) — preprocess the
training files (150-nt windows centred on the sites), train the default architecture,
evaluate on the left-out test files and predict on them. ``bed``: the generated genome
with a planted motif and a conservation track — the BED path, with a blackbox split,
and by default a three-branch model (sequence, RNA structure, conservation).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from gennie.config import EvaluateConfig, PredictConfig, PreprocessConfig, TrainConfig
from gennie.example import bed_example, rbp_example
from gennie.runs import StageResult

log = logging.getLogger("gennie.quickstart")


def _say(text: str) -> None:
    import sys

    print(text, file=sys.stderr, flush=True)


DEFAULT_BRANCHES = {"rbp": ["seq"], "bed": ["seq", "fold", "cons"]}
"""Branches each example uses unless others are asked for."""


def run_quickstart(
    out: Path, example: str = "rbp", epochs: int = 20, branches: list[str] | None = None
) -> StageResult:
    """Run preprocess → train → evaluate → predict on an example into ``out``.

    Args:
        out: Output folder.
        example: ``rbp`` (FASTA) or ``bed`` (BED, genome, conservation track).
        epochs: Maximum epochs.
        branches: Input branches (default: :data:`DEFAULT_BRANCHES` of the example);
            ``cons`` needs the ``bed`` example.

    Returns:
        ``out`` and a summary with each stage's run folder and the test ``metrics``.
    """
    from gennie.errors import UserError
    from gennie.evaluation.stage import evaluate
    from gennie.prediction.stage import predict
    from gennie.preprocessing.stage import preprocess
    from gennie.training.stage import train

    out = Path(out).expanduser().resolve()
    if example not in ("rbp", "bed"):
        raise UserError(f"unknown example '{example}'", field="example", hint="use rbp or bed")
    branches = list(branches or DEFAULT_BRANCHES[example])
    out.mkdir(parents=True, exist_ok=True)
    if example == "rbp":
        files = rbp_example()
        pre = PreprocessConfig(
            classes={
                "positive": files["train"]["positive"],
                "negative": files["train"]["negative"],
            },
            window=150,
            ratio="8:1:1",
            branches=branches,
            out=out,
        )
        test_classes = {
            "positive": files["test"]["positive"],
            "negative": files["test"]["negative"],
        }
    else:
        files = bed_example()
        data = out / "example-data"
        data.mkdir(exist_ok=True)
        genome = data / "genome.fa.gz"
        if not genome.exists():  # indexes are written next to the genome: not in the package
            shutil.copy(files["genome"], genome)
        pre = PreprocessConfig(
            classes=files["classes"],
            genome=genome,
            branches=branches,
            conservation=[files["conservation"]] if "cons" in branches else [],
            window=100,
            ratio="7:1:1:1",
            out=out,
        )
    _say(
        f"1/4 preprocess: {', '.join(f'{k}={v.name}' for k, v in pre.classes.items())}; "
        f"branches {', '.join(branches)}"
    )
    dataset = preprocess(pre)
    _say(f"    dataset: {dataset.run_dir}  {dataset.summary['splits']}")
    _say(f"2/4 train: preset enngene, up to {epochs} epochs with early stopping")
    model = train(TrainConfig(dataset=dataset.run_dir, epochs=epochs, patience=5, out=out))
    _say(
        f"    model: {model.run_dir}  (best epoch {model.summary['best_epoch']}, "
        f"test AUROC {model.summary['metrics']['auroc']:.3f})"
    )
    if example == "rbp":
        ev_config = EvaluateConfig(model=model.run_dir, classes=test_classes, out=out)
        pr_config = PredictConfig(model=model.run_dir, input=test_classes["positive"], out=out)
    else:
        ev_config = EvaluateConfig(model=model.run_dir, blackbox=dataset.run_dir, out=out)
        pr_config = PredictConfig(
            model=model.run_dir, input=files["classes"]["bound"], genome=pre.genome, out=out
        )
    _say(
        "3/4 evaluate on "
        + ("the left-out test files" if example == "rbp" else "the blackbox split")
    )
    evaluation = evaluate(ev_config)
    metrics = evaluation.summary["metrics"]
    _say(f"    evaluation: {evaluation.run_dir}")
    _say("4/4 predict")
    prediction = predict(pr_config)
    _say(f"    predictions: {prediction.summary['predictions_file']}")
    _say("")
    _say(f"Done. Evaluation AUROC {metrics['auroc']:.3f}, accuracy {metrics['accuracy']:.3f}.")
    _say(f"  training curves   {model.run_dir / 'training_curves.png'}")
    _say(
        f"  ROC / PR curves   {evaluation.run_dir / 'roc_curve.png'}, "
        f"{evaluation.run_dir / 'pr_curve.png'}"
    )
    _say(f"  architecture      {model.run_dir / 'architecture.png'}")
    _say(f"  re-run any stage  gennie run {model.run_dir / 'parameters.yaml'}")
    return StageResult(
        run_dir=out,
        summary={
            "metrics": metrics,
            "dataset": str(dataset.run_dir),
            "model": str(model.run_dir),
            "evaluation": str(evaluation.run_dir),
            "predictions": prediction.summary["predictions_file"],
        },
    )
