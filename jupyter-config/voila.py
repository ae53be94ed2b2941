"""Voila settings for the series (``python3 tasks.py present``; Voila reads a ``voila.py``).

The kernel connection of ``jupyter_server_config.py``, whose messages are sent at once (see there).
"""
load_subconfig("jupyter_server_config.py")  # noqa: F821  (traitlets' config-file helper)
config = c  # noqa: F821  (the config object traitlets gives a config file)
if "kernel_websocket_connection_class" in config.ServerApp:
    config.Voila.kernel_websocket_connection_class = (
        config.ServerApp.kernel_websocket_connection_class)
