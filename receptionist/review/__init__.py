"""The call review pages at /calls: ``pages`` (routes), ``auth`` (login, sessions, CSRF),
``waterfall`` (the latency chart as SVG), ``stats`` (percentiles)."""
