"""Stage 3, analysis: connections (flows), Wireshark-style sequence analysis and per-connection
facts, computed on the packet table's columns."""
