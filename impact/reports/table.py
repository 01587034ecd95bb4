"""`ReaderTable`: a table for the report's readers, shown whole.

Pandas cuts long cells to 50 characters and prints the index as an extra header row; a reader
table has words in its cells (an interval, a reason), so it renders every cell in full, without
the index, under an optional caption.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True, eq=False)
class ReaderTable:
    """A DataFrame with a caption, rendered in full for people (`frame` keeps the data).

    Example:
        >>> t = ReaderTable(pd.DataFrame({"metric": ["handle time"], "change": ["-14%"]}))
        >>> "<th>metric</th>" in t._repr_html_()
        True
    """

    frame: pd.DataFrame
    caption: str = ""

    def __len__(self) -> int:
        return len(self.frame)

    def _repr_html_(self) -> str:
        caption = (
            f"<p class='impact-caption'>{html.escape(self.caption)}</p>" if self.caption else ""
        )
        if self.frame.empty:
            return f"<div class='impact-table'>{caption}</div>"
        with pd.option_context("display.max_colwidth", None):
            body = self.frame.to_html(index=False, escape=True, border=0)
        return f"<div class='impact-table'>{caption}{body}</div>"

    def __repr__(self) -> str:
        return f"{self.caption}\n{self.frame.to_string(index=False)}".strip()


__all__ = ["ReaderTable"]
