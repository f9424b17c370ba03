"""The sink keeps pandas out: pyarrow would import it at the first array built from Python
objects (0.67 s of a restarted sink's start, 49 MB of its memory), and chDB's own Arrow
reader would too. Run in a fresh interpreter: the finder it installs is for good, and chDB
hosts one engine folder per process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SINK_LIKE = """
import sys
from pathlib import Path
from ops.runtime.unused_libraries import keep_out_unused_libraries

keep_out_unused_libraries()
import pyarrow as pa
from sinks.clickhouse.chdb_backend import ChdbBackend

with ChdbBackend(Path(sys.argv[1])) as backend:
    backend.execute("CREATE TABLE t (id UInt32, name String) ENGINE = MergeTree ORDER BY id")
    backend.insert_arrow("t", pa.table({"id": [2, 1], "name": ["b", "a"]}))
    rows = backend.query("SELECT id, name FROM t ORDER BY id").rows
    empty = backend.query_arrow("SELECT id FROM t WHERE id > 9")
    print(rows, empty.num_rows, "pandas" in sys.modules)
try:
    import pandas  # noqa: F401
except ModuleNotFoundError as exc:
    print(exc)
"""


def test_a_sink_process_builds_reads_and_writes_arrow_without_pandas(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", SINK_LIKE, str(tmp_path / "chdb")],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "[(1, 'a'), (2, 'b')] 0 False",
        "pandas is kept out of this process",
    ]
