"""The walk the script-language closures share (Node, Ruby, PHP, Perl): from the kept sources, each file reached
is handed out once, with the first reason it was reached by recorded; a directory kept whole is queued once."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator

from slim.results import PartOfWholePackage, Reason


class SourceWalk:
    """Files to visit, first in first out (or last in first out with `depth_first`). Iterating hands out each
    file not seen yet that `admit` accepts, after noting in `keep` why it was reached (the start files need no
    reason); what a visit finds goes back in through `queue`. A file `admit` refuses is not marked seen."""

    def __init__(self, start: Iterable[str], keep: dict[str, Reason], admit: Callable[[str], bool] | None = None,
                 depth_first: bool = False) -> None:
        self.queue: deque[tuple[str, Reason | None]] = deque((p, None) for p in start)
        self.seen: set[str] = set()
        self.keep = keep
        self._admit = admit
        self._next = self.queue.pop if depth_first else self.queue.popleft
        self._whole: set[str] = set()

    def __iter__(self) -> Iterator[str]:
        while self.queue:
            path, why = self._next()
            if path in self.seen or (self._admit is not None and not self._admit(path)):
                continue
            self.seen.add(path)
            if why:
                self.keep.setdefault(path, why)
            yield path

    def whole(self, directory: str, because: str, files: Callable[[], Iterable[str]]) -> None:
        """Queue `files()`, the files of `directory`, as parts of a package kept whole `because`; once a directory."""
        if directory not in self._whole:
            self._whole.add(directory)
            reason = PartOfWholePackage(directory, because)
            self.queue.extend((p, reason) for p in files())
