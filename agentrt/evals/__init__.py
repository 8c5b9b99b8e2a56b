"""Evaluation on public benchmarks, scored by their authors' rules."""
