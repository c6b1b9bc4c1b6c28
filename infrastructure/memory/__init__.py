"""In-memory adapters with real transaction semantics, for fast tests and local experiments."""
