"""tracemetrics: metrics, tables and plots from LLM-serving benchmark traces."""

__version__ = "0.1.0"
