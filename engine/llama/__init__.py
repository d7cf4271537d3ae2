"""The fast Llama-family CPU path (fast.py) that the embedded default runs on.
"""
