"""The predict stage: a model + new data → one row of class probabilities per input.

Output ``predictions.tsv`` keeps the input order and each input's identity (BED
coordinates and name, FASTA header, or the sequence itself), one ``p_<class>`` column
per class and the highest-scoring class. No hard call is forced on the user: the
probabilities are there to threshold as they see fit. BED intervals that produced no
window (chromosome shorter than the window, interval past its end) keep their row,
with a note saying why.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from gennie.attribution.explain import (
    attribution_problems,
    open_model,
    write_attribution_outputs,
)
from gennie.config import PredictConfig
from gennie.dataset.inputs import InputMapper, ModelInputs, identity_columns
from gennie.dataset.mapping import DROP_REASONS
from gennie.errors import UserError
from gennie.io.files import require_file
from gennie.model.inference import (
    index_batches,
    predict_probabilities,
)
from gennie.model.loading import model_problems
from gennie.runs import PREDICTIONS_FILE, StageResult, run_folder
from gennie.scoring.metrics import probability_table

log = logging.getLogger("gennie.predict")


def check(config: PredictConfig) -> list[UserError]:
    """The problems of a predict configuration that show before the model is loaded.

    Args:
        config: The predict configuration.

    Returns:
        Field-tagged user errors, in the order :func:`predict` meets them (it raises
        the first): nothing to predict; the model (see
        :func:`~gennie.model.loading.model_problems`); the attribution settings; a
        missing input file.
    """
    problems = []
    if config.input is None and not config.sequences:
        problems.append(
            UserError(
                "nothing to predict",
                field="input",
                hint="give --input FILE (BED, FASTA, sequences) or --sequence SEQ",
            )
        )
    problems += model_problems(config)
    problems += attribution_problems(config)
    if config.input is not None:
        try:
            require_file(config.input, "input", "input file")
        except UserError as exc:
            problems.append(exc)
    return problems


def prediction_summary(predicted: int, highest: dict[str, int], dropped: int) -> str:
    """One line saying what was predicted, e.g. ``predicted 200 inputs; highest class:
    bound 120, unbound 80; 3 without a window``."""
    classes = ", ".join(f"{name} {int(n)}" for name, n in highest.items() if isinstance(name, str))
    text = f"predicted {predicted} inputs; highest class: {classes or 'none'}"
    return text + (f"; {dropped} without a window" if dropped else "")


def _with_dropped(table: pd.DataFrame, inputs: ModelInputs) -> pd.DataFrame:
    """The predictions table with a noted row for each BED interval that got no window,
    in input order."""
    if inputs.dropped.empty:
        return table.reset_index(drop=True)
    dropped = pd.DataFrame(
        {
            "line": inputs.dropped["line"],
            "chrom": inputs.dropped["chrom"],
            "start": inputs.dropped["start"],
            "end": inputs.dropped["end"],
            "name": inputs.dropped["name"],
            "strand": inputs.dropped["strand"],
            "note": "no window: " + inputs.dropped["reason"].map(DROP_REASONS),
        }
    )
    log.warning(
        "%d intervals got no prediction (%s)",
        len(dropped),
        "; ".join(
            f"{n} {DROP_REASONS[r]}" for r, n in inputs.dropped["reason"].value_counts().items()
        ),
    )
    table = pd.concat([table, dropped]).sort_values("line", kind="stable")
    return table.reset_index(drop=True)


def predict(config: PredictConfig) -> StageResult:
    """Run the predict stage (see the module docstring).

    Args:
        config: The predict configuration.

    Returns:
        The run folder and a summary (number of predictions, counts per highest class).

    Raises:
        UserError: The first problem :func:`check` finds, or one that shows when the
            model is loaded or the inputs are read.
    """
    model, device = open_model(config, check(config))
    with (
        run_folder(config) as run,
        InputMapper(model.spec, config.genome, config.conservation) as mapper,
    ):
        inputs = (
            mapper.from_file(Path(config.input))
            if config.input
            else mapper.from_sequences(list(config.sequences))
        )
        forward = model.network.to(device) if model.network is not None else model.forward
        order = np.arange(len(inputs.table))
        probs = predict_probabilities(
            forward,
            index_batches(inputs.inputs, order, config.batch_size),
            device,
            model.outputs_are_probabilities,
            total=len(order),
        )
        table = probability_table(identity_columns(inputs), probs, model.spec.classes)
        table["_sample"] = order  # finds each input's row after dropped rows are merged in
        table = _with_dropped(table, inputs)
        sample_rows = np.empty(len(order), dtype=np.int64)
        predicted = table["_sample"].notna().to_numpy()
        sample_rows[table.loc[predicted, "_sample"].astype(int)] = np.flatnonzero(predicted)
        table = table.drop(columns="_sample")
        table.to_csv(run.dir / PREDICTIONS_FILE, sep="\t", index=False)
        if config.attributions:
            run.summary.update(
                write_attribution_outputs(
                    run.dir,
                    forward,
                    inputs.inputs,
                    sample_rows,
                    table,
                    list(identity_columns(inputs).columns),
                    model.spec,
                    config,
                    device,
                    model.outputs_are_probabilities,
                    seed=config.seed,
                    batch_size=min(config.batch_size, 64),
                    model_label=str(config.model),
                )
            )
        counts = table["highest"].value_counts().to_dict() if len(table) else {}
        message = prediction_summary(len(probs), counts, len(inputs.dropped))
        log.info(message)
        run.summary.update(
            {
                "predictions": int(len(probs)),
                "highest": {k: int(v) for k, v in counts.items() if isinstance(k, str)},
                "predictions_file": str(run.dir / PREDICTIONS_FILE),
            }
        )
        return StageResult(run_dir=run.dir, summary=run.summary, stage=run.stage, message=message)
