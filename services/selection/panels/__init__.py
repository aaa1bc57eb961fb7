"""Expert panels: the registry of experts and their declared conflicts of interest (assignment and interview scoring come next)."""
