"""The Human36M reader (see ``Human36M.py``); this folder also holds the Human36M data files."""
