"""Background jobs: long work runs in a thread with its state in SQLite, so closing the browser
or timing out a request never stops it, and a restart resumes it (see manager.py)."""
