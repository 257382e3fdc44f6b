"""CLI, local API, storage and dashboard."""
