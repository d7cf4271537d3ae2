"""Trust checks: needle-in-a-haystack runs on the user's own library, so a writer can see, for
their documents and their model, how reliably a fact deep in a long prompt is found and cited.

needles.py makes the facts, haystack.py packs the library around them, scoring.py judges the
answers, runner.py runs the grid (a pure function), check.py runs and stores it, jobs.py runs
it as a background job, heatmap.py draws it, summary.py reads the latest result for the
Synthesize tab. Does not know SQL (workbench/library/trust_store.py) or the UI.
"""
