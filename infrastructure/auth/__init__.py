"""Authentication adapters: bearer tokens (JWT) and where their keys come from."""
