"""The tracking service. Tracking: enrolment lifecycle, periodic evaluations, exits, stage transitions and university recommendations."""
