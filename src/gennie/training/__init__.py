"""Training: the Lightning module, data loading, callbacks and the train stage
(:func:`gennie.training.stage.train`)."""
