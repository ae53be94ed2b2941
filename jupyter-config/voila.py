"""Voila settings for the series (``python3 tasks.py present``; Voila reads a ``voila.py``).

* The kernel connection of ``jupyter_server_config.py``, whose messages are sent at once (see
  there).
* The page template ``bpsim`` (``share/voila/templates/bpsim``): Voila's lab template without the
  stylesheets it asks a CDN for (its notebook page, and page.html, the frame of its other
  pages), so that a projected dashboard opens offline as fast as online.
  (Its folder is put first on ``JUPYTER_PATH``, where Voila looks for templates; ``--template``
  on the command line still chooses another.)
"""
import os
from pathlib import Path

load_subconfig("jupyter_server_config.py")  # noqa: F821  (traitlets' config-file helper)
config = c  # noqa: F821  (the config object traitlets gives a config file)
if "kernel_websocket_connection_class" in config.ServerApp:
    config.Voila.kernel_websocket_connection_class = (
        config.ServerApp.kernel_websocket_connection_class)

_share = str(Path(__file__).resolve().parent / "share")
os.environ["JUPYTER_PATH"] = os.pathsep.join(
    [_share] + ([os.environ["JUPYTER_PATH"]] if os.environ.get("JUPYTER_PATH") else []))
config.VoilaConfiguration.template = "bpsim"
