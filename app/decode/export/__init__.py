"""Stage 5, export: the JSON document (docs/json.md)."""
