"""A typed Python client for the Spil hub.

    from spil import Hub
    from spil.v1 import capacity_pb2

    hub = Hub.from_files("hub.example.nl:443", ca="server-ca.pem",
                         cert="org.pem", key="org-key.pem")
    for result in hub.search_places(capacity_pb2.SearchPlacesRequest(child_age=15)):
        ...

The generated messages and stubs are in `spil.v1` (`capacity_pb2`,
`consultations_pb2`, `directory_pb2`, `insights_pb2`, `audit_pb2`, `common_pb2`).
"""

from spil.client import FieldViolation, Hub, SpilError

__all__ = ["FieldViolation", "Hub", "SpilError"]
