"""`python -m homecare.sim`: the simulator's command line."""

from homecare.sim.cli import app

app(prog_name="python -m homecare.sim")
