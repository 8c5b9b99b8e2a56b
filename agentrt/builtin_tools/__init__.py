"""agentrt's built-in tools, registered through the `agentrt.tools` entry points as a plugin's are."""
