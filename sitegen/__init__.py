"""The site generator behind build.py: load → validate → render → write, one module per stage."""
