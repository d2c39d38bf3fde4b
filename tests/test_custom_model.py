"""Custom (non-gennie) models: an ONNX file written here, evaluated and used to predict."""

import numpy as np
import pandas as pd
import pytest

from gennie.config import EvaluateConfig, PredictConfig
from gennie.encode.alphabet import base_codes, one_hot
from gennie.errors import UserError
from gennie.evaluation.stage import evaluate
from gennie.prediction.stage import predict

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

WINDOW = 12
# logits = mean over positions of the one-hot input @ WEIGHTS: class 0 likes A, class 1 likes T
WEIGHTS = np.array([[2.0, -2.0], [0.0, 0.0], [0.0, 0.0], [-2.0, 2.0]], dtype=np.float32)


@pytest.fixture()
def onnx_model(tmp_path):
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["x", "axes"], ["mean"], keepdims=0),
            helper.make_node("MatMul", ["mean", "w"], ["logits"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4, WINDOW])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 2])],
        [
            numpy_helper.from_array(np.array([2], dtype=np.int64), "axes"),
            numpy_helper.from_array(WEIGHTS, "w"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    return path


def _expected(seqs):
    x = one_hot(np.stack([base_codes(s) for s in seqs]))
    logits = x.mean(axis=2) @ WEIGHTS
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_onnx_model_predicts_exact_probabilities(tmp_path, onnx_model):
    seqs = ["AAAAAAAAAAAA", "TTTTTTTTTTTT", "ACGTACGTACGT", "AAAATTTTTTTT"]
    result = predict(
        PredictConfig(
            model=onnx_model,
            sequences=seqs,
            custom_window=WINDOW,
            custom_classes=["a_rich", "t_rich"],
            out=tmp_path,
        )
    )
    table = pd.read_csv(result.run_dir / "predictions.tsv", sep="\t")
    assert table["sequence"].tolist() == seqs
    np.testing.assert_allclose(
        table[["p_a_rich", "p_t_rich"]].to_numpy(), _expected(seqs), atol=1e-6
    )
    assert table["highest"].tolist() == ["a_rich", "t_rich", "a_rich", "t_rich"]


def test_onnx_model_evaluates(tmp_path, onnx_model):
    (tmp_path / "a.fa").write_text(">a1\nAAAAAAAAAAAA\n>a2\nAAAAAAACAAAA\n")
    (tmp_path / "t.fa").write_text(">t1\nTTTTTTTTTTTT\n>t2\nATTTTTTTTTTA\n")
    result = evaluate(
        EvaluateConfig(
            model=onnx_model,
            classes={"a_rich": tmp_path / "a.fa", "t_rich": tmp_path / "t.fa"},
            custom_window=WINDOW,
            custom_classes=["a_rich", "t_rich"],
            out=tmp_path,
        )
    )
    assert result.summary["metrics"]["accuracy"] == 1.0
    assert result.summary["metrics"]["auroc"] == 1.0


def test_custom_model_needs_window_and_classes(tmp_path, onnx_model):
    with pytest.raises(UserError) as err:
        predict(PredictConfig(model=onnx_model, sequences=["ACGT"], out=tmp_path))
    assert err.value.field == "custom_window"
    with pytest.raises(UserError) as err:
        predict(
            PredictConfig(
                model=onnx_model,
                sequences=["ACGT"],
                custom_window=WINDOW,
                custom_classes=["one", "two", "three"],
                out=tmp_path,
            )
        )
    assert err.value.field == "custom_classes" and "(n, 3)" in err.value.message
