"""The publication gate: Great Expectations checks on the night's build, their audit trail and Data Docs.

Importing this package is cheap: GX is imported only inside the functions that run it.
"""
