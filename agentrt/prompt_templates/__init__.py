"""Built-in prompt templates (Jinja, `*.j2`); this file only makes the folder ship as package data."""
