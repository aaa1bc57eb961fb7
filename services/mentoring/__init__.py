"""The mentoring service. Mentors: the registry, matching each admitted student to a lab mentor and a life mentor, projects and defenses."""
