"""``gennie quickstart``: the whole pipeline on the bundled example data.

``rbp`` (default): real PUM2 PAR-CLIP sites from RBP24 (FASTA) — preprocess the
training files (150-nt windows centred on the sites), train the default architecture,
evaluate on the left-out test files and predict on them. ``bed``: the generated genome
with a planted motif and a conservation track — the BED path, with a blackbox split,
and by default a three-branch model (sequence, RNA structure, conservation).

Both end with the interpretation side, after the metrics are taken (so they do not
change them): an Integrated Gradients report on a few inputs (predict with
attributions) and the first-layer filters of the sequence branch as motifs.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from gennie.config import (
    EvaluateConfig,
    MotifsConfig,
    PredictConfig,
    PreprocessConfig,
    TrainConfig,
)
from gennie.example import bed_example, rbp_example
from gennie.io.fasta import read_fasta
from gennie.runs import LOGOS_DIR, REPORT_FILE, StageResult

log = logging.getLogger("gennie.quickstart")


def _say(text: str) -> None:
    import sys

    print(text, file=sys.stderr, flush=True)


DEFAULT_BRANCHES = {"rbp": ["seq"], "bed": ["seq", "fold", "cons"]}
"""Branches each example uses unless others are asked for."""

EXPLAINED = 8
"""Inputs whose Integrated Gradients the quickstart computes."""

REPORTED = 3
"""Top predictions per class drawn in the quickstart's report."""

MOTIF_SAMPLES = 500
"""Dataset samples scanned by the quickstart's motifs step."""


def _first_records(source: Path, count: int, target: Path | None) -> list[str] | Path:
    """The first ``count`` inputs of an example file: the sequences of a FASTA file, or
    the first ``count`` records of a BED file written to ``target``."""
    if target is None:
        records = read_fasta(source, field="input")
        return [record.sequence for _, record in zip(range(count), records, strict=False)]
    lines = [line for line in source.read_text().splitlines() if line and line[0] != "#"]
    target.write_text("\n".join(lines[:count]) + "\n")
    return target


def _interpret(
    config: PredictConfig, model: Path, dataset: Path, branches: list[str]
) -> dict[str, str]:
    """Integrated Gradients on the inputs of ``config`` (predict with attributions:
    report and logos) and, when
    ``branches`` has the sequence branch, its first-layer filters as motifs.

    Returns:
        Where the ``report``, its ``logos`` and (if found) the ``motifs`` are.
    """
    from gennie.interpret.motifs import motifs
    from gennie.prediction.stage import predict

    _say(f"5/6 interpret: Integrated Gradients on {EXPLAINED} inputs")
    explained = predict(config)
    found = {
        "report": str(explained.run_dir / REPORT_FILE),
        "logos": str(explained.run_dir / LOGOS_DIR),
    }
    _say(f"    report: {found['report']}")
    if "seq" not in branches:
        _say("6/6 motifs: skipped (motifs are the filters of the seq branch)")
        return found
    _say(f"6/6 motifs: first-layer filters on {MOTIF_SAMPLES} dataset samples")
    scanned = motifs(
        MotifsConfig(model=model, dataset=dataset, max_samples=MOTIF_SAMPLES, out=config.out)
    )
    found["motifs"] = scanned.summary["motifs_file"]
    _say(f"    motifs: {found['motifs']}")
    return found


def _say_where(metrics: dict, model: Path, evaluation: Path, interpreted: dict[str, str]) -> None:
    """The closing lines: the test metrics and where to look next."""
    _say("")
    _say(f"Done. Evaluation AUROC {metrics['auroc']:.3f}, accuracy {metrics['accuracy']:.3f}.")
    _say(f"  training curves   {model / 'training_curves.png'}")
    _say(f"  ROC / PR curves   {evaluation / 'roc_curve.png'}, {evaluation / 'pr_curve.png'}")
    _say(f"  architecture      {model / 'architecture.png'}")
    _say(f"  attributions      {interpreted['report']}  (logos in {interpreted['logos']})")
    if "motifs" in interpreted:
        _say(f"  filter motifs     {interpreted['motifs']}")
    _say(f"  re-run any stage  gennie run {model / 'parameters.yaml'}")


def run_quickstart(
    out: Path, example: str = "rbp", epochs: int = 20, branches: list[str] | None = None
) -> StageResult:
    """Run preprocess → train → evaluate → predict → interpret on an example into ``out``.

    Args:
        out: Output folder.
        example: ``rbp`` (FASTA) or ``bed`` (BED, genome, conservation track).
        epochs: Maximum epochs.
        branches: Input branches (default: :data:`DEFAULT_BRANCHES` of the example);
            ``cons`` needs the ``bed`` example.

    Returns:
        ``out`` and a summary with each stage's run folder, the test ``metrics`` and
        where the attribution ``report`` and the ``motifs`` are.
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
        explain = _first_records(test_classes["positive"], EXPLAINED, None)
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
        explain = _first_records(files["classes"]["bound"], EXPLAINED, data / "explain.bed")
    _say(
        f"1/6 preprocess: {', '.join(f'{k}={v.name}' for k, v in pre.classes.items())}; "
        f"branches {', '.join(branches)}"
    )
    dataset = preprocess(pre)
    _say(f"    dataset: {dataset.run_dir}  {dataset.summary['splits']}")
    train_config = TrainConfig(dataset=dataset.run_dir, epochs=epochs, patience=5, out=out)
    _say(f"2/6 train: preset {train_config.preset}, up to {epochs} epochs with early stopping")
    model = train(train_config)
    _say(
        f"    model: {model.run_dir}  (best epoch {model.summary['best_epoch']}, "
        f"test AUROC {model.summary['metrics']['auroc']:.3f})"
    )
    if example == "rbp":
        ev_config = EvaluateConfig(model=model.run_dir, classes=test_classes, out=out)
        pr_config = PredictConfig(model=model.run_dir, input=test_classes["positive"], out=out)
        ig_config = PredictConfig(
            model=model.run_dir, sequences=explain, attributions=True, top=REPORTED, out=out
        )
    else:
        ev_config = EvaluateConfig(model=model.run_dir, blackbox=dataset.run_dir, out=out)
        pr_config = PredictConfig(
            model=model.run_dir, input=files["classes"]["bound"], genome=pre.genome, out=out
        )
        ig_config = PredictConfig(
            model=model.run_dir,
            input=explain,
            genome=pre.genome,
            attributions=True,
            top=REPORTED,
            out=out,
        )
    _say(
        "3/6 evaluate on "
        + ("the left-out test files" if example == "rbp" else "the blackbox split")
    )
    evaluation = evaluate(ev_config)
    metrics = evaluation.summary["metrics"]
    _say(f"    evaluation: {evaluation.run_dir}")
    _say("4/6 predict")
    prediction = predict(pr_config)
    _say(f"    predictions: {prediction.summary['predictions_file']}")
    interpreted = _interpret(ig_config, model.run_dir, dataset.run_dir, branches)
    _say_where(metrics, model.run_dir, evaluation.run_dir, interpreted)
    return StageResult(
        run_dir=out,
        summary={
            "metrics": metrics,
            "dataset": str(dataset.run_dir),
            "model": str(model.run_dir),
            "evaluation": str(evaluation.run_dir),
            "predictions": prediction.summary["predictions_file"],
            **interpreted,
        },
    )
