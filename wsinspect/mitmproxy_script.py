"""Loaded by ``mitmdump -s`` / ``mitmweb -s``: wsinspect inside your own mitmproxy (split mode).

Options: ``--set wsinspect_save=FILE`` writes the session when mitmproxy stops;
``--set wsinspect_feed=SOCKET`` streams to ``wsinspect watch --attach`` (default socket: the same
default as the dashboard's). See wsinspect/split_mode.py.
"""

from wsinspect.split_mode import SplitMode

addons = [SplitMode()]
