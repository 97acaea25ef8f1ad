"""The process boundary: worker processes, their case execution, checks, timing and framework adapters."""
