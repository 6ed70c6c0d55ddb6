"""Launching emulated runs: the environment (env.py) and the supervised process (supervisor.py)."""
