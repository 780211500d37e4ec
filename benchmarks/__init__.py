"""Load benchmark of generated projects against reference apps: `python -m benchmarks run`."""
