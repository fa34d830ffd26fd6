"""The cloud dialogue engine: an OpenAI-compatible chat model, streamed, with tools.

::

    stream           chunks -> TextDelta / ToolCallStarted / ToolCallsReady / Finished  (I/O-free)
    tools            schemas, argument validation, Scheduler requests              (I/O-free)
    results          Scheduler replies -> compact JSON tool results                (I/O-free)
    prompt           the system prompt from config.toml and the clinic's clock     (I/O-free)
    history          one call's messages; trimmed to what the caller heard         (I/O-free)
    client           the openai SDK at the edge: streams events, maps errors to LlmError
    speculation      a reply started on a pause, kept if the caller said those words
    agent            one call's stream and tool loop; speaks sentences as they arrive
                     (cut by ``receptionist.turns.sentences``)
    pending_replies  the Scheduler round trips of tool calls, in flight
    brain            the Dialogue actor's LLM brain (``receptionist.turns.brain.Brain``)

Wiring: ``build_llm(config)`` at start-up (the key is ``config.secrets``' own),
``async with engine.open_client() as client`` once per process, and ``run_dialogue(...,
llm=client)`` per call.
"""

from receptionist.llm.agent import FALLBACK, LlmAgent, Reply
from receptionist.llm.client import LlmClient, LlmEngine, build_llm

__all__ = ["FALLBACK", "LlmAgent", "LlmClient", "LlmEngine", "Reply", "build_llm"]
