"""A worker process on the scripted backend: the same Worker loop as `python -m workbench
worker`, with a backend whose answers are known. argv: DATA_DIR LOG BLOCK_AT WAIT_FOR_OTHER
IDLE_EXIT_S. Prints the jobs it ran as JSON."""
import json
import sys
from pathlib import Path

from scripted import ScriptedBackend

from workbench.config import Settings
from workbench.jobs.worker import Worker, WorkerOptions
from workbench.workbench import Workbench

data_dir, log, block_at, wait, idle = sys.argv[1:6]
wb = Workbench(Settings.from_sources({"data_dir": data_dir}))
wb.use_backend(ScriptedBackend(Path(log), int(block_at), wait == "1", pause_s=0.05))
ran = Worker(wb.jobs, WorkerOptions(poll_s=0.05, idle_exit_s=float(idle))).run()
print(json.dumps([{"id": j.id, "status": j.status, "error": j.error} for j in ran]))
