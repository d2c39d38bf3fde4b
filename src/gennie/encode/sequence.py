"""The ``seq`` branch: one-hot encoded nucleotides (4 channels: A, C, G, T/U)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from gennie.encode.alphabet import INVALID, LETTERS, base_codes, one_hot
from gennie.encode.base import BranchEncoder, WindowBatch
from gennie.errors import UserError

if TYPE_CHECKING:
    from gennie.config import PreprocessConfig


class SequenceEncoder(BranchEncoder):
    """One byte per base in the dataset; one-hot (n, 4, length) for the network.

    Args:
        unknown_bases: ``zero`` or ``uniform`` encoding of N / IUPAC codes.
    """

    name: ClassVar[str] = "seq"
    channels = 4
    stores_base_codes: ClassVar[bool] = True
    option_fields: ClassVar[tuple[str, ...]] = ("unknown_bases",)

    def __init__(self, unknown_bases: str = "zero", **_: object) -> None:
        super().__init__(unknown_bases=unknown_bases)
        self.unknown_bases = unknown_bases

    @classmethod
    def from_config(cls, config: PreprocessConfig) -> SequenceEncoder:
        """One-hot encoding with the configuration's ``unknown_bases``."""
        return cls(unknown_bases=config.unknown_bases)

    def channel_letters(self, alphabet: str) -> list[str]:
        """The bases: A, C, G and T (``dna``) or U (``rna``)."""
        return list(LETTERS[alphabet])

    def encode(self, batch: WindowBatch) -> np.ndarray:
        """Base codes, shape=(n, length), uint8. Invalid letters are a UserError."""
        if not batch.sequences:
            return np.zeros((0, 0), dtype=np.uint8)
        joined = "".join(batch.sequences)
        length = len(batch.sequences[0])
        codes = base_codes(joined).reshape(len(batch.sequences), length)
        bad = np.argwhere(codes == INVALID)
        if bad.size:
            row, col = (int(v) for v in bad[0])
            letter = batch.sequences[row][col]
            where = batch.labels[row] if batch.labels else f"sequence {row + 1}"
            raise UserError(
                f"{where}: letter '{letter}' at position {col + 1} is not a nucleotide "
                "or IUPAC code",
                hint="sequences may contain A, C, G, T, U and IUPAC codes such as N",
            )
        return codes

    def to_input(self, stored: np.ndarray) -> np.ndarray:
        """One-hot, shape=(n, 4, length), float32."""
        return one_hot(np.asarray(stored), self.unknown_bases)
