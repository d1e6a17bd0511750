"""Baselines re-implemented from the papers (DESIGN.md section 8): algorithm cores plus the model classes the harness runs."""
