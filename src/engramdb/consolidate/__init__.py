"""Consolidation: episodes become facts and summaries; nothing true is ever lost.

``extract`` finds statements (rule-based by default, ``llm`` optionally;
``extractors`` builds the one a ``Settings`` asks for),
``supersede`` keeps each subject / attribute's timeline of values,
``summarize`` writes extractive session summaries and finds near-duplicate
episodes, and ``engine`` runs it all incrementally, one transaction per batch.
See docs/consolidation.md.
"""

from __future__ import annotations

from engramdb.consolidate.engine import Consolidator, Progress
from engramdb.consolidate.extract import Extraction, Extractor, RuleExtractor
from engramdb.consolidate.llm import LLMExtractor

__all__ = ["Consolidator", "Extraction", "Extractor", "LLMExtractor", "Progress", "RuleExtractor"]
