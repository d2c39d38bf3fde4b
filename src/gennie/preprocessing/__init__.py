"""The preprocess stage (:func:`gennie.preprocessing.stage.preprocess`): class files →
an encoded, split dataset folder."""
