"""Leaderboards: results records -> per-protocol tables (Markdown, LaTeX, CSV) and a static HTML site.

- ``records``: ``add_record`` puts a results record on the leaderboard (protocol spec checked, predictions copied
  beside it and hash-checked, record checksum added); ``verify_results`` recomputes every hash.
- ``reported``: the numbers printed by the seed papers (``reported/*.json``), shown as separate `reported` rows with
  their citation, never as reproduced results.
- ``table``: rows (``Entry``) and the Markdown / LaTeX (booktabs) / CSV tables; ``site``: the HTML pages;
  ``figures``: matplotlib figure hooks (confusion matrices, spotting timelines, EMG envelopes; ``register_figure``
  for new kinds); ``build``: ``build_leaderboard(results, out)``.

Real-dataset records, shadow-corpus records and reported rows are three sections that never share a table.
"""

from mebench.leaderboard.build import BuildSummary, build_leaderboard
from mebench.leaderboard.figures import register_figure
from mebench.leaderboard.records import add_record, record_checksum, verify_results
from mebench.leaderboard.reported import load_reported

__all__ = ["BuildSummary", "add_record", "build_leaderboard", "load_reported", "record_checksum", "register_figure",
           "verify_results"]
