"""Run ``python -m bpsim.live consumer|producer|visualize --help``."""
import sys

from .cli import main

sys.exit(main())
