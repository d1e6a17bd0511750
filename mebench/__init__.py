"""mebench: the benchmark harness for facial micro-expression research.

Data flows one way: annotation files -> loaders -> corpus (Parquet) -> protocol -> submission or model -> metrics ->
results record -> leaderboard and cards. Nothing downstream is imported upstream.
"""

__version__ = "0.1.0"
