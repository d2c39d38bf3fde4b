"""Datasets: class files → windows → encoded branches → reduced, split dataset folder."""
