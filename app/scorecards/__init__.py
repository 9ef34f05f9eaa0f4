"""A city's U4SSC scorecard: every KPI scored against its benchmark, and the roll-ups."""
