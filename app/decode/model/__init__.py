"""Stage 1, the model: packets, the columnar packet table, TCP options, coded values, errors."""
