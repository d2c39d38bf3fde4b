"""Training: Lightning module, data loading, callbacks and the train stage."""
