"""The courses service. Courses: the catalogue, sections, cross-school registration with waitlists, exemptions and grade skips."""
