"""Stage 2, readers: capture containers (pcap, pcapng, gzip, zstd) read as a stream of chunks,
vectorised dissection into the packet table, Scapy for the frames the fast path leaves, and
ingest (bytes in, a Trace out, text handed to ``app.decode.text``)."""
