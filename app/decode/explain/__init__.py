"""Stage 4, explain: what every field means for one packet (tooltips), the connection told in
words, what the SYNs negotiated, the findings catalogue and the full dissection of a packet."""
