"""Delivery mechanisms (HTTP, CLI) and the composition root that wires every concrete class."""
