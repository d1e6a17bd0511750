"""Dataset and baseline model cards (Markdown with YAML front matter), shipped as ``mebench.cards``."""
