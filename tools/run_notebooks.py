"""Execute notebooks in fresh kernels, in place, the way they are committed.

    python tools/run_notebooks.py notebooks/01-the-scenario.ipynb [...]

Each notebook runs top to bottom in a new kernel from its own folder; the widget-state blob is
removed from the metadata (nbval never compares it, and it is large), as are execution
timestamps, and the time each notebook took is printed.
"""
import sys
import time

import nbformat
from nbclient import NotebookClient


def run(path: str) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    # A lost "idle" message once made nbclient wait out its whole timeout: fail fast instead.
    NotebookClient(nb, timeout=120, kernel_name="python3", record_timing=False,
                   raise_on_iopub_timeout=True,
                   resources={"metadata": {"path": str(__import__("pathlib").Path(path).parent)}}
                   ).execute()
    took = time.perf_counter() - start
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:  # timestamps would make every re-run a diff
        cell.get("metadata", {}).pop("execution", None)
    nbformat.write(nb, path)
    return took


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(f"{p}: {run(p):.1f} s")
