"""Simulated homes for homecare: residents' bodies and days, their devices, scenarios, a load fleet."""
