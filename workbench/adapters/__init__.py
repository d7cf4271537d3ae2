"""House-style LoRA adapters: dataset from the library, PEFT training, evaluation, registry.

Nothing here imports torch at import time; the training path loads it when it runs.
"""
