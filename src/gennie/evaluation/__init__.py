"""The evaluate stage (:func:`gennie.evaluation.stage.evaluate`): a model + labelled
data → metrics, curves and the confusion matrix."""
