"""Alarms: the flows that cross domains — the pipeline from device events to incidents, and escalation timers."""
