"""Community service stations: where they are, their hours, capacity and duty state."""
