"""Benchmarks run by `make bench`: figures printed as JSON lines."""
