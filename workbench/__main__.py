"""`python -m workbench`: see workbench/cli.py."""
import sys

from workbench.cli import main

sys.exit(main())
