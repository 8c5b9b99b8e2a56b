"""Built-in tool modules, loaded by file path through the tool registry; this file only makes the folder ship as package data."""
