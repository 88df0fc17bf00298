"""Server-side fall detection: a per-position classifier for IMU bursts around a suspected fall."""
