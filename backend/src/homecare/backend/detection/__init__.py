"""Detectors that turn device data into signals with a cause, a priority and an explanation."""
