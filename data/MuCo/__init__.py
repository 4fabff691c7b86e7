"""The MuCo reader (see ``MuCo.py``); this folder also holds the MuCo data files."""
