"""agentrt: a runtime for agents that plan, retrieve, reason and act on your own local model."""

from .agent import Agent
from .assemble import run_script
from .config import AgentConfig
from .context import idempotency_key
from .conversation import Conversation, Turn
from .errors import (
    AgentrtError,
    AgentrtWarning,
    BackendError,
    ConfigError,
    InvalidArguments,
    ModelNotFoundError,
    ModelOutputError,
    OutputValidationError,
    PlanError,
    RetryTool,
    RunError,
    SandboxViolation,
    TemplateError,
    TokenBudgetSpent,
    ToolDefinitionError,
    UnsafeResume,
    UserError,
)
from .events import (
    Answered,
    ApprovalRequested,
    Event,
    ModelCalled,
    PlanMade,
    Replanning,
    RunStarted,
    StepFinished,
    StepStarted,
    TextDelta,
)
from .knowledge import KnowledgeBase
from .llm import LLM, Generation, GenerationRequest
from .memory import ExperienceMemory
from .output import JsonSchema
from .plan import Plan
from .registry import Tool, ToolRegistry, load_tools_file, tool
from .schema import PlanSpec, RunResult, Spent, StepError, StepResult, StepSpec, Usage
from .store import RunStore
from .testing import ScriptedLLM

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AgentConfig",
    "AgentrtError",
    "AgentrtWarning",
    "Answered",
    "ApprovalRequested",
    "BackendError",
    "ConfigError",
    "Event",
    "ExperienceMemory",
    "Generation",
    "GenerationRequest",
    "InvalidArguments",
    "KnowledgeBase",
    "LLM",
    "ModelCalled",
    "ModelNotFoundError",
    "ModelOutputError",
    "OutputValidationError",
    "JsonSchema",
    "TextDelta",
    "Conversation",
    "Turn",
    "TokenBudgetSpent",
    "Usage",
    "Spent",
    "Plan",
    "PlanError",
    "PlanMade",
    "PlanSpec",
    "Replanning",
    "RetryTool",
    "RunError",
    "RunResult",
    "RunStarted",
    "RunStore",
    "SandboxViolation",
    "ScriptedLLM",
    "StepFinished",
    "StepError",
    "StepResult",
    "StepSpec",
    "StepStarted",
    "TemplateError",
    "Tool",
    "ToolDefinitionError",
    "ToolRegistry",
    "UnsafeResume",
    "UserError",
    "idempotency_key",
    "load_tools_file",
    "run_script",
    "tool",
]
