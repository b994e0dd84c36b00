"""Errors Bronze raises on landed files that cannot be built, each naming the file."""

from __future__ import annotations

from pathlib import Path


class NotInPartitionError(ValueError):
    """A landed file none of whose records belong to the partition it landed under: none fall in the
    date's window (`calendar.partition_window_ns`: previous close to close) or, for MBP-10, none are
    of the front month. The message names the file, what it holds and its time span (UTC)."""

    def __init__(self, path: Path, what: str, first_utc: str, last_utc: str, date: str) -> None:
        super().__init__(
            f"{path}: none of its {what} (ts_event {first_utc} to {last_utc}) fall in the {date} "
            f"session; the file does not belong to partition {date}"
        )
        self.path, self.date = path, date


class DuplicateLandingError(ValueError):
    """Two landed files of one schema and date are byte-identical or share records; the message
    names both."""
