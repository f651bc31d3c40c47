"""The load benchmark (bench/load/run.py) in its parts."""
