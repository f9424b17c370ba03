"""Installed libraries a long-running process never uses, kept from loading.

pyarrow asks whether pandas is installed the first time it builds an array from Python
objects (``pa.array``, ``pa.table``) and, if it is, imports it. chDB installs pandas, and the
sink never uses it: the import took 0.67 s of a restarted sink's start, on the way to its
first commit, and 49 MB of its memory for the rest of its life.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

UNUSED = frozenset({"pandas"})


class _KeptOut(MetaPathFinder):
    """Fails the import of an unused library as if it were not installed. (A ``None`` in
    ``sys.modules`` would too, but pyarrow's compiled import returns that ``None``.)"""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname.partition(".")[0] in UNUSED:
            raise ModuleNotFoundError(f"{fullname} is kept out of this process", name=fullname)
        return None


def keep_out_unused_libraries() -> None:
    """From now on, importing one of ``UNUSED`` in this process fails as if it were not
    installed, which pyarrow takes as pandas being absent. One already loaded stays."""
    if not any(isinstance(finder, _KeptOut) for finder in sys.meta_path):
        sys.meta_path.insert(0, _KeptOut())
