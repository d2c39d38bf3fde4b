"""Branch encoders: how a window of sequence becomes one input branch of the network.

Each branch (``seq`` one-hot, ``fold`` RNA structure, ``cons`` signal tracks) is a
:class:`~gennie.encode.base.BranchEncoder` registered in :data:`ENCODERS`.
"""

from gennie.encode.base import ENCODERS, BranchEncoder, WindowBatch, make_encoder

__all__ = ["ENCODERS", "BranchEncoder", "WindowBatch", "make_encoder"]
