"""Stage 2, text: tcpdump's terminal output, as people paste it, read into the packet table."""
