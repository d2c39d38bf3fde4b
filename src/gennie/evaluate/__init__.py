"""Evaluation of a trained classifier: metrics, curves and plots on held-out data."""
