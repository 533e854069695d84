"""Which extractor a ``Settings`` asks for: the one place that reads the extractor options.

``"rules"`` (default) needs nothing; ``"llm"`` needs ``extractor_url`` and
``extractor_model`` and reads its API key from the environment variable the
settings name, here and only when it is built (at ``consolidate``).
"""

from __future__ import annotations

import os

from engramdb.config import Settings
from engramdb.consolidate.extract import Extractor, RuleExtractor
from engramdb.consolidate.llm import LLMExtractor
from engramdb.errors import InvalidInputError

__all__ = ["make_extractor"]


def make_extractor(settings: Settings) -> Extractor:
    if settings.extractor == "rules":
        return RuleExtractor()
    if settings.extractor == "llm":
        if not settings.extractor_url or not settings.extractor_model:
            raise InvalidInputError(
                "the llm extractor needs extractor_url and extractor_model "
                "(ENGRAMDB_EXTRACTOR_URL, ENGRAMDB_EXTRACTOR_MODEL)"
            )
        return LLMExtractor(
            settings.extractor_url,
            settings.extractor_model,
            os.environ.get(settings.extractor_api_key_env),
        )
    raise InvalidInputError(f"extractor must be 'rules' or 'llm', got {settings.extractor!r}")
