"""Results: composite scores, the ranking per discipline, decisions, publication with objections, the final results and their explanation."""
