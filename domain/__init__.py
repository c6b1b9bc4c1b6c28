"""The student-records domain: entities, value rules and domain errors (standard library only)."""
