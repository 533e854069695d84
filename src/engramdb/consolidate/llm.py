"""An optional extractor that asks an OpenAI-compatible chat endpoint for facts.

``LLMExtractor`` POSTs one ``/chat/completions`` request per batch of episodes
(numbered, with speaker and date) and reads back a JSON object of facts. It
uses only the standard library, is never constructed unless configured
(``Settings(extractor="llm", extractor_url=..., extractor_model=...)``) and
never on the write or read path: only ``consolidate`` calls it. Works with
OpenAI, Ollama, vLLM, LM Studio and others speaking the same format. Whatever
comes back is checked; a malformed fact is dropped, a failing endpoint raises
``EmbeddingError`` (a model could not be run) and the batch is not written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from engramdb.consolidate.extract import Extraction, fact_text
from engramdb.embed.http import openai_endpoint
from engramdb.errors import EmbeddingError, InvalidInputError
from engramdb.model import Engram

__all__ = ["LLMExtractor", "chat_url"]

_PROMPT = (
    "You extract durable facts from a person's conversation turns. For each turn, list "
    "statements the speaker makes about themselves (or names): where they live "
    "(attribute 'residence'), where they work ('employer'), their job ('occupation'), "
    "partner ('partner'), age ('age'), counts ('number of kids', 'number of dogs', ...), "
    "favourites ('favorite food', ...), feelings ('feeling about X' with value "
    "'loves'/'hates'), family members ('sister', ...), plans ('plan') and events "
    "('did'). Use the speaker's name as subject. Answer with one JSON object: "
    '{"facts": [{"turn": <turn number>, "subject": "...", "attribute": "...", '
    '"value": "..."}]}. Only facts the text states; no guesses.'
)


def chat_url(url: str) -> str:
    """The chat endpoint for ``url``: a base (``.../v1`` or host) or the endpoint itself."""
    return openai_endpoint(url, "chat/completions", "extractor")


class LLMExtractor:
    """Facts from a chat model at ``url`` (OpenAI-compatible), ``model`` by name."""

    name = "llm"

    def __init__(
        self, url: str, model: str, api_key: str | None = None, *, timeout_s: float = 60.0
    ) -> None:
        if not model:
            raise InvalidInputError("the LLM extractor needs a model name")
        self.url = chat_url(url)
        self.model = model
        self.timeout_s = timeout_s
        self._api_key = api_key

    def extract(self, episodes: Sequence[Engram]) -> list[list[Extraction]]:
        out: list[list[Extraction]] = [[] for _ in episodes]
        if not episodes:
            return out
        turns = "\n".join(
            f"{i}. [{e.occurred_at.date()}] {e.speaker or 'user'}: {e.text}"
            for i, e in enumerate(episodes)
        )
        answer = self._post(
            {
                "model": self.model,
                "temperature": 0,
                "response_format": {"type": "json_object"},
                "messages": [
                    {"role": "system", "content": _PROMPT},
                    {"role": "user", "content": turns},
                ],
            }
        )
        for item in _facts(answer):
            turn, subject = item.get("turn"), item.get("subject")
            attribute, value = item.get("attribute"), item.get("value")
            if not (isinstance(turn, int) and 0 <= turn < len(episodes)):
                continue
            if not all(isinstance(x, str) and x.strip() for x in (subject, attribute, value)):
                continue
            s, a, v = str(subject).strip(), str(attribute).strip().lower(), str(value).strip()
            out[turn].append(Extraction(s, a, v, fact_text(s, a, v)))
        return out

    def _post(self, body: dict[str, Any]) -> Any:
        import urllib.error
        import urllib.request

        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(  # noqa: S310 - scheme checked in chat_url
            self.url, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise EmbeddingError(f"the extractor at {self.url} answered {exc.code}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise EmbeddingError(f"cannot reach the extractor at {self.url}: {exc}") from exc
        except ValueError as exc:
            raise EmbeddingError(f"the extractor at {self.url} sent invalid JSON") from exc


def _facts(answer: Any) -> list[dict[str, Any]]:
    """The list of fact objects in a chat completion, or an error saying what is wrong."""
    try:
        content = answer["choices"][0]["message"]["content"]
        parsed = json.loads(content)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise EmbeddingError(
            f"the extractor's answer is not a JSON chat completion: {exc}"
        ) from exc
    facts = parsed.get("facts") if isinstance(parsed, dict) else None
    if not isinstance(facts, list):
        raise EmbeddingError("the extractor's answer has no 'facts' list")
    return [f for f in facts if isinstance(f, dict)]
