"""agentrt: a runtime for agents that plan, retrieve, reason and act on your own local model."""

from .agent import Agent
from .errors import (
    AgentrtError,
    AgentrtWarning,
    BackendError,
    ConfigError,
    InvalidArguments,
    ModelNotFoundError,
    ModelOutputError,
    PlanError,
    RetryTool,
    RunError,
    SandboxViolation,
    TemplateError,
    ToolDefinitionError,
    UnsafeResume,
    UserError,
)
from .plan import Plan
from .registry import Tool, ToolRegistry, load_tools_file, tool
from .schema import PlanSpec, RunResult, StepResult, StepSpec

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AgentrtError",
    "AgentrtWarning",
    "BackendError",
    "ConfigError",
    "InvalidArguments",
    "ModelNotFoundError",
    "ModelOutputError",
    "Plan",
    "PlanError",
    "PlanSpec",
    "RetryTool",
    "RunError",
    "RunResult",
    "SandboxViolation",
    "StepResult",
    "StepSpec",
    "TemplateError",
    "Tool",
    "ToolDefinitionError",
    "ToolRegistry",
    "UnsafeResume",
    "UserError",
    "load_tools_file",
    "tool",
]
