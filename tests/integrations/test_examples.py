"""The agent examples of docs/integrations/ (``examples/``), run as written with each
SDK's own test model: no network, no key. Each agent remembers in one run and recalls
in a second run that opens the store again, so what crosses runs is engramdb's."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from engramdb import AsyncMemory
from engramdb.embed import Embedder

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_openai_agents_example_remembers_across_runs(location: str, embedder: Embedder) -> None:
    pytest.importorskip("agents", reason="openai-agents (the dev extra) is not installed")
    from agents import Runner, set_tracing_disabled
    from agents.testing import ModelCall, ModelStep, ScriptedModel, assistant_message, function_call

    set_tracing_disabled(True)
    example = _example("openai_agents_memory")

    def answer_with_the_tool_output(call: ModelCall) -> Any:
        outputs = [i["output"] for i in call.input if i.get("type") == "function_call_output"]
        return [assistant_message(f"From memory: {outputs[-1]}")]

    telling = ScriptedModel(
        [
            [function_call("remember", {"text": "My dog is called Pastel."}, call_id="c1")],
            [assistant_message("I will remember that.")],
        ]
    )
    asking = ScriptedModel(
        [
            [function_call("recall", {"query": "what is the dog called"}, call_id="c2")],
            ModelStep.respond(answer_with_the_tool_output),
        ]
    )

    async def run(model: ScriptedModel, said: str) -> str:
        async with AsyncMemory(location, embedder=embedder) as memory:
            where = example.MemoryContext(memory, namespace="user-42", session="chat-1")
            result = await Runner.run(example.build_agent(model), said, context=where)
            return str(result.final_output)

    assert asyncio.run(run(telling, "My dog is called Pastel.")) == "I will remember that."
    answer = asyncio.run(run(asking, "What is my dog called?"))
    telling.assert_complete()
    asking.assert_complete()
    assert answer.startswith("From memory: ")
    assert "My dog is called Pastel." in answer
    tools = {tool.name for tool in asking.first_call.tools}  # type: ignore[union-attr]
    assert tools == {"remember", "recall", "context"}


def test_the_pydantic_ai_example_remembers_across_runs(location: str, embedder: Embedder) -> None:
    pytest.importorskip("pydantic_ai", reason="pydantic-ai-slim (the dev extra) is not installed")
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    example = _example("pydantic_ai_memory")

    def script(tool: str, args: dict[str, Any]) -> FunctionModel:
        """Call ``tool`` once, then answer with what it returned."""

        def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            returned = [
                part.content
                for message in messages
                for part in getattr(message, "parts", [])
                if part.part_kind == "tool-return"
            ]
            if returned:
                return ModelResponse(parts=[TextPart(f"From memory: {returned[-1]}")])
            return ModelResponse(parts=[ToolCallPart(tool, json.dumps(args))])

        return FunctionModel(model)

    async def run(model: FunctionModel, said: str) -> str:
        async with AsyncMemory(location, embedder=embedder) as memory:
            deps = example.MemoryDeps(memory, namespace="user-42", session="chat-1")
            result = await example.build_agent(model).run(said, deps=deps)
            return str(result.output)

    told = asyncio.run(run(script("remember", {"text": "My dog is called Pastel."}), "..."))
    assert told == "From memory: remembered"
    answer = asyncio.run(run(script("context", {"query": "what is my dog called?"}), "?"))
    assert "My dog is called Pastel." in answer


def test_every_pydantic_ai_tool_runs_with_the_test_model(embedder: Embedder) -> None:
    pytest.importorskip("pydantic_ai", reason="pydantic-ai-slim (the dev extra) is not installed")
    from pydantic_ai.models.test import TestModel

    example = _example("pydantic_ai_memory")

    async def run() -> tuple[str, int]:
        async with AsyncMemory(":memory:", embedder=embedder) as memory:
            deps = example.MemoryDeps(memory, namespace="t")
            model = TestModel(call_tools="all")
            result = await example.build_agent(model).run("hello", deps=deps)
            assert {t.name for t in model.last_model_request_parameters.function_tools} == {
                "remember",
                "recall",
                "context",
            }
            stats = await memory.stats(namespace="t")
            return str(result.output), stats.engrams

    output, stored = asyncio.run(run())
    assert stored == 1  # remember was called with the test model's text
    assert "remember" in output
