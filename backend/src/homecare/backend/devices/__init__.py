"""Devices: enrolment, assignment to residents and their state (minimal for now)."""
