"""`python -m confgen`."""

from confgen.cli import run

run()
