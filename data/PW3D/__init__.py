"""The PW3D reader (see ``PW3D.py``); this folder also holds the PW3D data files."""
