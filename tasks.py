"""The two commands of the README, for any machine with Python 3.10 or newer.

    python3 tasks.py lab     # install what the series needs, then open it in JupyterLab
    python3 tasks.py test    # install everything the tests need, then run every test
    python3 tasks.py present notebooks/02-strategies.ipynb   # a dashboard as an app (Voila)

Both make (or reuse) a virtual environment in ``.venv`` next to this file and install bpsim into it
in editable mode, so a change to ``bpsim/`` shows up in the notebooks after a kernel restart.
Set ``BPSIM_VENV`` to use another folder. Extra arguments after ``test`` go to pytest
(``python3 tasks.py test tests/test_cli.py -x``); after ``lab``, to JupyterLab.
"""
from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("BPSIM_VENV", ROOT / ".venv")).resolve()
#: The series' Jupyter settings (see jupyter_server_config.py there: the kernel's messages are
#: sent at once, and JupyterLab shows the kernel's status in its status bar).
JUPYTER_CONFIG = ROOT / "jupyter-config"


def jupyter_env() -> dict:
    """This process's environment for a Jupyter server of the series: the series' settings
    first on ``JUPYTER_CONFIG_PATH`` (the user's own still apply), and no ``MPLBACKEND`` (Agg
    there would stop figures from showing in the notebooks)."""
    env = dict(os.environ)
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        [str(JUPYTER_CONFIG)] + ([env["JUPYTER_CONFIG_PATH"]] if env.get("JUPYTER_CONFIG_PATH")
                                 else []))
    env.pop("MPLBACKEND", None)
    return env


def _bin(name: str) -> Path:
    return VENV / ("Scripts" if os.name == "nt" else "bin") / name


def _run(*cmd, **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)


def ensure_env(extras: str) -> Path:
    """Create the virtual environment if needed and install bpsim with ``extras`` into it."""
    if sys.version_info < (3, 10):
        sys.exit(f"bpsim needs Python 3.10 or newer; this is {sys.version.split()[0]}.")
    python = _bin("python")
    if not python.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        try:
            venv.create(VENV, with_pip=True)
        except Exception as err:  # e.g. Debian without python3-venv
            sys.exit(f"Could not create a virtual environment in {VENV} ({err}). On Debian or "
                     "Ubuntu install it with: sudo apt-get install python3-venv")
    spec = f".[{extras}]" if extras else "."
    _run(python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", spec)
    return python


def warm_up_in_background(python: Path) -> subprocess.Popen:
    """Compile the series' engines while the page opens (``bpsim.course.warmup``): about a
    minute of CPU on a fresh install, then numba's cache keeps them, and a second or two after
    that. Without it the first run of notebook 01, and again of 04, would wait for the compiler.
    It goes on by itself if the server is stopped first (a compile cut short caches nothing);
    what it prints goes to ``warm-up.log`` in the virtual environment's folder."""
    log = VENV / "warm-up.log"
    print(f"Compiling the simulator in the background (about a minute the first time; "
          f"log: {log})", flush=True)
    with open(log, "w") as out:  # (the child keeps its own copy of the file)
        return subprocess.Popen([str(python), "-m", "bpsim.course.warmup"], cwd=ROOT,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env={**jupyter_env(), "MPLBACKEND": "Agg"},
                                start_new_session=True)


def _serve(python: Path, cmd: list) -> int:
    """Run a Jupyter server of the series (``cmd``) with the warm-up beside it."""
    warm = warm_up_in_background(python)
    print("+", " ".join(str(c) for c in cmd), flush=True)
    rc = subprocess.call([str(c) for c in cmd], cwd=ROOT, env=jupyter_env())
    warm.poll()  # collected if it has finished; else it finishes by itself
    return rc


def lab(args) -> int:
    python = ensure_env("")
    cmd = [python, "-m", "jupyter", "lab", "notebooks/00-start-here.ipynb", *args]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # JupyterLab refuses to run as root otherwise
    return _serve(python, cmd)


def present(args) -> int:
    python = ensure_env("")
    if not args:
        args = ["notebooks/02-strategies.ipynb"]
    return _serve(python, [python, "-m", "voila", *args])


def test(args) -> int:
    python = ensure_env("test")
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)
    cmd = [python, "-m", "pytest", *args]
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"lab": lab, "test": test, "present": present}
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
