"""Pure decoding and analysis: no web framework, no database.

The stages, each a sub-package, in the order data flows through them:

- ``model``    the packet model, the columnar packet table, TCP options, coded values, errors
- ``readers``  capture containers, vectorised dissection, the Scapy fallback, ingest of bytes
- ``text``     the tcpdump text parser
- ``analysis`` flows, sequence analysis, connection facts
- ``explain``  field tooltips, narrative, negotiation, findings catalogue, packet detail
- ``export``   the JSON document

Each stage imports only from the stages before it.  Scapy is imported only inside this
package.
"""

from app.decode.analysis.result import Analysis, analyse
from app.decode.export.document import write_json
from app.decode.model.errors import TraceError
from app.decode.readers.ingest import Limits, read_input, read_path

__all__ = [
    "Analysis",
    "Limits",
    "TraceError",
    "analyse",
    "read_input",
    "read_path",
    "write_json",
]
