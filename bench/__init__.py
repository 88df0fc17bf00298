"""Benchmarks that print the figures the project is measured against."""
