"""Person linkage in its own process: deterministic passes (NHS number with conflict checks, UPN, local ids), then
Splink on in-process DuckDB with a reviewed, versioned model (model.json), then clustering with a guard.

Reads `restricted.int_person_records` from the warehouse (COPY out), writes `restricted.linkage_person_links`,
`linkage_conflicts` and `linkage_review` back (COPY in, swapped in atomically). docs/linkage.md explains it.
"""

from ipb.linkage.run import LinkageResult, run_linkage

__all__ = ["LinkageResult", "run_linkage"]
