"""Use-cases of the student-records service and the ports they talk through."""
