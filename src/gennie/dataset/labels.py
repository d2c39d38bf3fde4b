"""Class labels of labelled input files, for scoring a model on them.

Labelled data outside a dataset folder is one of: a BED file with the class name in a
column; a FASTA file with the class name in each header (as a separate word, e.g.
``>site1 bound`` or ``>site1|bound``); or one file per class. Each reader returns the
class index of every window of :class:`~gennie.dataset.inputs.ModelInputs`, in its
row order, and names the file and line of a label that is not a class of the model.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from gennie.dataset.inputs import ModelInputs
from gennie.errors import UserError
from gennie.io.bed import read_bed


def header_class(header: str, classes: list[str]) -> str | None:
    """The class named in a FASTA header.

    Args:
        header: The header line, without ``>``.
        classes: The model's class names.

    Returns:
        The one word (split on spaces, ``| ; , = :``) that equals a class name; None
        if no word or several different classes match.
    """
    words = set(re.split(r"[\s|;,=:]+", header))
    found = [c for c in classes if c in words]
    return found[0] if len(found) == 1 else None


def labels_from_bed(inputs: ModelInputs, path: Path, column: int, classes: list[str]) -> np.ndarray:
    """Class indices read from a column of the BED file the windows came from.

    Args:
        inputs: The windows of ``path``.
        path: The BED file.
        column: 1-based column holding the class name.
        classes: The model's class names.

    Returns:
        shape=(n,), int64, the class index of each window.

    Raises:
        UserError: A name in the column is not a class of the model.
    """
    bed = read_bed(path, field="input", label_column=column).set_index("line")
    labels = bed.loc[inputs.table["source_line"].to_numpy(), "label"].to_numpy()
    lines = inputs.table["source_line"].to_numpy()
    out = np.empty(len(labels), dtype=np.int64)
    for i, label in enumerate(labels):
        if label not in classes:
            raise UserError(
                f"class '{label}' in column {column} is not a class of the model "
                f"({', '.join(classes)})",
                file=path,
                line=int(lines[i]),
                field="class_column",
                hint="use the model's class names, or set --class-column",
            )
        out[i] = classes.index(label)
    return out


def labels_from_fasta(inputs: ModelInputs, path: Path, classes: list[str]) -> np.ndarray:
    """Class indices read from the FASTA headers of the windows (see :func:`header_class`).

    Args:
        inputs: The windows of ``path``.
        path: The FASTA file.
        classes: The model's class names.

    Returns:
        shape=(n,), int64, the class index of each window.

    Raises:
        UserError: A header names none or several of the classes.
    """
    out = np.empty(len(inputs.table), dtype=np.int64)
    for i, (header, number) in enumerate(
        zip(inputs.table["name"], inputs.table["source_line"], strict=True)
    ):
        name = header_class(str(header), classes)
        if name is None:
            raise UserError(
                f"header '{header}' names none (or several) of the model's classes "
                f"({', '.join(classes)})",
                file=path,
                record=int(number),
                field="input",
                hint="put the class as a separate word in each header, e.g. '>id1 bound', "
                "or give one file per class",
            )
        out[i] = classes.index(name)
    return out


def labels_from_file(
    inputs: ModelInputs, path: Path, column: int, classes: list[str]
) -> np.ndarray:
    """Class indices of the windows of a labelled BED or FASTA file.

    Args:
        inputs: The windows of ``path``.
        path: The file.
        column: For BED: 1-based column holding the class name.
        classes: The model's class names.

    Returns:
        shape=(n,), int64, the class index of each window.

    Raises:
        UserError: Plain sequences (they carry no class), or a label that is not a
            class of the model.
    """
    fmt = inputs.table["format"].iloc[0]
    if fmt == "bed":
        return labels_from_bed(inputs, path, column, classes)
    if fmt == "fasta":
        return labels_from_fasta(inputs, path, classes)
    raise UserError(
        "plain sequences carry no class; evaluation needs labels",
        file=path,
        field="input",
        hint="use FASTA with the class in the header",
    )


def class_index(name: str, classes: list[str]) -> int:
    """The index of a class named for a whole file (``classes.NAME=FILE``).

    Args:
        name: The class name given for the file.
        classes: The model's class names.

    Returns:
        Its index among ``classes``.

    Raises:
        UserError: The name is not a class of the model.
    """
    if name not in classes:
        raise UserError(
            f"'{name}' is not a class of the model ({', '.join(classes)})",
            field=f"classes.{name}",
        )
    return classes.index(name)
