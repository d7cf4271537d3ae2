"""`python -m engine.bench BENCH [options]`: runs engine/bench/dispatch.py."""
import sys

from engine.bench.dispatch import main

sys.exit(main())
