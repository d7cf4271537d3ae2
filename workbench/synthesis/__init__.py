"""Synthesis over a project's library: templates, context packing, the token budget, map-reduce,
citation checking and cost estimates, run by one pure runner (runner.py).

Owns the shape of a synthesis job. Does not know where jobs are stored (workbench/jobs and
workbench/library/jobs_store.py) or how a model runs (engine.backends).
"""
