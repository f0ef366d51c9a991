"""The dbt project's unit tests (`unit_tests:` in the model YAML), once, for `make test-fast`.

dbt needs the relations a unit-tested model reads to exist (it takes their column types from the warehouse), so
this builds them over empty raw tables (the schema bootstrap, the seeds, no data tests) in a scratch database on
the running warehouse, then runs the unit tests alone. (`dbt build --empty` would be quicker but cannot render
`{{ source(...) }} as b`.) The full suite runs them again, with real data
(`tests/test_dbt.py`, `dbt build`). Exit status 0 when every unit test passes.

    .venv/bin/python -m tests.dbt_unit_tests
"""

from __future__ import annotations

import os
import sys
import time

from ipb import config, db, warehouse
from ipb.orchestration.build import run_build
from ipb.transform import run_dbt

KEY = "dbt-unit-tests-key-3c9e0b27d14f"


def main() -> int:
    settings = config.load()
    warehouse.require_running(settings)
    t0 = time.monotonic()
    saved = dict(os.environ)
    try:
        with warehouse.scratch_database(settings, "ipb_test_dbt_unit") as (_, env):
            os.environ.update({**env, "IPB_PSEUDONYM_KEY": KEY})
            db.bootstrap()
            quiet = ["--quiet", "--threads", "2"]
            # The night's build without tests (its three steps: the person layer reads the linkage task's tables).
            parents = run_build([*quiet, "--exclude-resource-type", "unit_test", "test"])
            if not parents.success:
                print("dbt unit tests: building the models they read failed", file=sys.stderr)
                return 1
            units = run_dbt(["test", *quiet, "--select", "test_type:unit"])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    results = getattr(units.result, "results", None) or []
    failed = [f"{r.node.name}: {r.status}" for r in results if str(r.status) != "pass"]
    print(f"dbt unit tests: {len(results) - len(failed)} of {len(results)} passed in {time.monotonic() - t0:.0f} s")
    for line in failed:
        print(f"  {line}", file=sys.stderr)
    return 0 if units.success and results and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
