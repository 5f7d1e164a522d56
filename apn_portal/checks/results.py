from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice


@dataclass
class CheckResult:
    """What one run of a check changed: counts by kind (stored as JSON) and the same in words."""

    changed: dict[str, int] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    # What the check's next run needs to know (stored on the CheckRun), e.g. a digest of what it read.
    state: dict = field(default_factory=dict)

    def add(self, kind: str, count: int = 1) -> None:
        self.changed[kind] = self.changed.get(kind, 0) + count

    def count(self, kind: str) -> int:
        return self.changed.get(kind, 0)

    def note(self, line: str) -> None:
        self.lines.append(line)

    @property
    def nothing_changed(self) -> bool:
        return not any(self.changed.values())

    @property
    def summary(self) -> str:
        return "\n".join(self.lines) if self.lines else "Nothing to do."


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Lists of up to `size` items, in order (itertools.batched arrives with Python 3.12)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
