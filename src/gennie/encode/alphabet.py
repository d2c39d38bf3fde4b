"""Nucleotide alphabets: base codes, one-hot encoding, reverse complement.

Bases are stored compactly as one byte per position: A=0, C=1, G=2, T/U=3, and 4 for
N and every other IUPAC ambiguity code (R, Y, S, W, K, M, B, D, H, V). Code 4 becomes
either an all-zero vector (``unknown_bases: zero``, the default: padding and unknown
bases contribute nothing to a convolution) or 0.25 for each base (``uniform``).
Anything else (digits, gaps, punctuation) is an error naming the record.
"""

from __future__ import annotations

import numpy as np

UNKNOWN = 4
INVALID = 255
LETTERS = {"dna": "ACGT", "rna": "ACGU"}

_CODES = np.full(256, INVALID, dtype=np.uint8)
for _code, _letters in enumerate(("Aa", "Cc", "Gg", "TtUu")):
    for _letter in _letters:
        _CODES[ord(_letter)] = _code
for _letter in "NRYSWKMBDHVnryswkmbdhv":
    _CODES[ord(_letter)] = UNKNOWN

_COMPLEMENT = str.maketrans("ACGTUNRYSWKMBDHVacgtunryswkmbdhv", "TGCAANYRSWMKVHDBtgcaanyrswmkvhdb")


def base_codes(sequence: str) -> np.ndarray:
    """Codes of a sequence, shape=(length,), dtype uint8 (255 marks invalid letters)."""
    return _CODES[np.frombuffer(sequence.encode("latin-1", "replace"), dtype=np.uint8)]


def first_invalid(sequence: str) -> int | None:
    """0-based position of the first letter that is not a nucleotide/IUPAC code, or None."""
    bad = np.flatnonzero(base_codes(sequence) == INVALID)
    return int(bad[0]) if bad.size else None


def reverse_complement(sequence: str) -> str:
    """Reverse complement, keeping case; IUPAC codes are complemented too; U → A."""
    return sequence.translate(_COMPLEMENT)[::-1]


def one_hot(codes: np.ndarray, unknown: str = "zero") -> np.ndarray:
    """One-hot encode base codes.

    Args:
        codes: shape=(n, length), dtype uint8, values 0–4.
        unknown: ``zero`` or ``uniform`` encoding of code 4.

    Returns:
        shape=(n, 4, length), dtype float32.
    """
    table = np.zeros((5, 4), dtype=np.float32)
    table[np.arange(4), np.arange(4)] = 1.0
    if unknown == "uniform":
        table[UNKNOWN] = 0.25
    return np.ascontiguousarray(table[codes].transpose(0, 2, 1))


def decode(codes: np.ndarray, alphabet: str = "dna") -> str:
    """Letters of one row of base codes (code 4 → N)."""
    letters = np.frombuffer((LETTERS[alphabet] + "N").encode(), dtype=np.uint8)
    return letters[np.asarray(codes, dtype=np.intp)].tobytes().decode()
