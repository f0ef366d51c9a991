"""Ingestion: landing zone -> raw, with file checks, row rules, quarantine, lineage and row accounting."""

from ipb.ingest.loader import LoadResult, load_file

__all__ = ["LoadResult", "load_file"]
