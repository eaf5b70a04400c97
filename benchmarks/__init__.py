"""Load and performance runs: scripts that print figures, not tests (CI times nothing)."""
