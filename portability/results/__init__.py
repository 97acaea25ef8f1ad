"""Offline analysis of run files: storage, compare, summary, export and the report."""
