"""``python -m bpsim``: see :mod:`bpsim.cli`."""
import sys

from .cli import main

sys.exit(main())
