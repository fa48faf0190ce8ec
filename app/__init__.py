"""tcpladder: explain TCP packet traces as ladder diagrams.

Layers (imports go one way only): ``app.web`` → ``app.store`` → ``app.decode``.
"""

__version__ = "0.1.0"
