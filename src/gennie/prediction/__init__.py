"""The predict stage (:func:`gennie.prediction.stage.predict`): a model + new data →
class probabilities per input."""
