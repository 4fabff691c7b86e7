"""The MSCOCO reader (see ``MSCOCO.py``); this folder also holds the MSCOCO data files."""
