"""Longhand's model runtime.

Owns: backends (local transformers, OpenAI- and Anthropic-compatible servers), model loading,
streaming generation, the DeepSeek-V4 fused kernels, and benchmarks.
Does not know: projects, documents, the database or the UI. Nothing here imports `workbench`,
gradio or sqlalchemy; heavy libraries (torch, transformers) are imported lazily where used.
"""
