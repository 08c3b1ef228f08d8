"""Reads Kustomer through PyAirbyte into PyAirbyte's default DuckDB cache, and reports what the cache holds.

Run by `integration_tests/test_pyairbyte.py` with the python of a virtualenv where PyAirbyte (`airbyte` on PyPI) is
installed; this project's own virtualenv does not have it:

    python pyairbyte_read.py REQUEST.json RESULT.json

REQUEST: `{"executable": <source-kustomer console script>, "config": {...}, "streams": [...]}`. RESULT: the cache's
path, the number of records the read processed, and for each stream the rows of the cache (`id` and `name`).
The default cache lives under `.cache/` of the working directory, so a second run from the same directory reads
incrementally from the state PyAirbyte saved there.
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path

import airbyte as ab


def main(request_path: str, result_path: str) -> None:
    request = json.loads(Path(request_path).read_text(encoding="utf-8"))

    source = ab.get_source("source-kustomer", config=request["config"], local_executable=request["executable"])
    source.check()
    source.select_streams(request["streams"])
    result = source.read()  # no cache given: PyAirbyte's default DuckDB cache

    rows = {
        stream: [{"id": record["id"], "name": record.get("name")} for record in result[stream]]
        for stream in request["streams"]
    }
    Path(result_path).write_text(
        json.dumps(
            {
                "pyairbyte_version": metadata.version("airbyte"),
                "cache_path": str(result.cache.db_path),
                "processed_records": result.processed_records,
                "rows": rows,
            }
        ),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
