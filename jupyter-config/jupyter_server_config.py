"""Jupyter server settings for the series (``python3 tasks.py lab`` and the browser tests use them).

The kernel's messages reach the page without waiting for TCP acknowledgements. Jupyter Server's
kernel websocket leaves Nagle's algorithm on (tornado's default), so a message that ends in a
part-filled packet, such as a chart's new frame, waits until the browser acknowledges the packets
before it, and the browser holds its acknowledgements for up to 40 ms (delayed ACK). While a
slider is dragged that stall came once per value: about 45 of the 52 ms between two values on
the test machine, so no dashboard could redraw more than about 19 times a second.
``TCP_NODELAY`` sends each message at once. Nothing else about the connection changes.

Beside this file, ``labconfig/default_setting_overrides.json`` gives JupyterLab (which reads that
file from every folder on the config path) one default of the series: the kernel's status and
run progress in the status bar rather than in the notebook's toolbar. The toolbar watches
everything inside it, and each time the kernel went busy or idle (twice per value of a dragged
slider) it worked out again which of its items can take the keyboard's focus, asking the browser
where each one is: a layout of the whole page each time, 130-140 ms of the page's time while
notebook 05's dashboard was dragged (two sliders, a held key and a pointer each) on the test
machine. The status bar does not. A learner's own setting of it wins.
"""
import socket

try:
    from jupyter_server.services.kernels.connection.channels import (
        ZMQChannelsWebsocketConnection,
    )
except ImportError:  # an older or newer Jupyter Server: keep its default connection
    ZMQChannelsWebsocketConnection = None


if ZMQChannelsWebsocketConnection is not None:

    class NoDelayKernelConnection(ZMQChannelsWebsocketConnection):
        """The kernel websocket with ``TCP_NODELAY`` set on its socket."""

        def connect(self):
            self.websocket_handler.set_nodelay(True)
            stream = getattr(self.websocket_handler.ws_connection, "stream", None)
            sock = getattr(stream, "socket", None)
            if sock is not None:
                on = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                self.log.info("bpsim: kernel websocket TCP_NODELAY=%d", on)
            return super().connect()

    c.ServerApp.kernel_websocket_connection_class = NoDelayKernelConnection  # noqa: F821
