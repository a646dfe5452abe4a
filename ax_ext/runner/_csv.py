"""Rows appended to a CSV file as they come (``ax-ext compare --csv``)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ax.exceptions.core import UserInputError


class CsvSink:
    """Append rows to a CSV file as they come (header first), flushed after each row."""

    def __init__(self, path: str | Path | None, columns: Sequence[str]) -> None:
        self.file = None
        if path is not None:
            out = Path(path).expanduser()
            if not out.parent.is_dir():
                raise UserInputError(
                    f"Expected the CSV file's folder to exist, got {str(path)!r} (no folder "
                    f"{str(out.parent)!r}). Create the folder or choose another --csv."
                )
            self.file = out.open("w", newline="")
            self.writer = csv.DictWriter(self.file, fieldnames=list(columns))
            self.writer.writeheader()
            self.file.flush()

    def write(self, row: dict[str, Any]) -> None:
        if self.file is not None:
            self.writer.writerow(row)
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
