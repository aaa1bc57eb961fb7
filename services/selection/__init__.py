"""The selection service. Selection campaigns: nominations, assessments, expert panels, ranking, publication and objections."""
