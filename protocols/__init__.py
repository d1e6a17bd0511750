"""Frozen protocol specs (TOML), shipped inside the installed package as ``mebench.protocols``."""
