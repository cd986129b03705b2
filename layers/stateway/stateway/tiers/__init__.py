"""Tier backends: one module per backend, each taking its client."""
