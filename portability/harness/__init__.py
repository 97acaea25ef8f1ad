"""The pytest process's side of a run: collection, the session's roles, the run's environment."""
