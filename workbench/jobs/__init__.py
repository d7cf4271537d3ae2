"""Jobs: long work as a row in the database (progress, cancel, saved steps, resume), run by a
thread in this process (manager.py) or by `worker` processes on any machine sharing the
database (worker.py); each job kind's work is looked up in one registry (registry.py)."""
