"""Helpers shared by the test suite: real brokers, ports, waiting."""
