"""Backends: local (transformers), openai_compat, anthropic. See base.py for the protocol."""
