"""The FreiHAND reader (see ``FreiHAND.py``); this folder also holds the FreiHAND data files."""
