"""Branch encoders: how a window of sequence becomes one input branch of the network.

Each branch type (``seq`` one-hot, ``fold`` RNA structure, ``cons`` signal tracks, and
any plug-in) is a :class:`~gennie.encode.base.BranchEncoder` listed in
:mod:`gennie.encode.registry`.
"""

from gennie.encode.base import BranchEncoder, WindowBatch, encoder_type, make_encoder
from gennie.encode.registry import branch_names, register_branch

__all__ = [
    "BranchEncoder",
    "WindowBatch",
    "branch_names",
    "encoder_type",
    "make_encoder",
    "register_branch",
]
