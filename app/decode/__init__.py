"""Pure decoding and analysis: no web framework, no database.

Scapy is imported only inside this package.
"""

from .analysis import Analysis, analyse, to_json
from .errors import TraceError
from .ingest import Limits, read_input, read_path

__all__ = ["Analysis", "Limits", "TraceError", "analyse", "read_input", "read_path", "to_json"]
