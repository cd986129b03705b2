"""Benchmarks: where Stateway stands against the floor and a peer. Run with ``make bench``."""
