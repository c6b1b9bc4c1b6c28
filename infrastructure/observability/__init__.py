"""Adapters for logs and metrics: structlog and prometheus-client."""
