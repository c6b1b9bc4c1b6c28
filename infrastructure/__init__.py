"""Adapters that implement the application's ports: storage, settings, clock, migrations."""
