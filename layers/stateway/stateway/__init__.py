"""Stateway: session state and project state over Redis, MongoDB and S3."""

__version__ = "0.1.0"
