"""bpsim.viz: everything bpsim draws.

* :mod:`.palette`: one colour for each strategy, policy, traffic class and outcome, the same in
  every notebook (colour-blind safe);
* :mod:`.figures`: figures of runs, all under one convention: take ``fig=`` or ``ax=``, return
  the Figure;
* :mod:`.dashboard`: the dashboard machinery (controls, a light redraw, the still twin), on
  which every notebook's dashboard is built.

Importing it loads no plotting or widget library; each figure or dashboard imports matplotlib or
ipywidgets when it is first drawn.
"""

#: The message view (:mod:`.messages`), importable from here; it loads on first use.
_MESSAGES = ("MessageView", "messages_dashboard", "render_messages", "show_messages")


def __getattr__(name):
    if name in _MESSAGES:
        from . import messages
        return getattr(messages, name)
    raise AttributeError(f"module 'bpsim.viz' has no attribute {name!r}")
