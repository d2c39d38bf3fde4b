"""Prediction: class probabilities for new data."""
