"""Real recorded vital-sign series replayed through the platform's own detectors, with planted acute episodes."""
