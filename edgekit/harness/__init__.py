"""On the target: the serial transport, the harness protocol, and measuring a model on a device.

``transport`` moves bytes (the only module importing pyserial), ``protocol`` encodes frames,
``device`` runs requests with bounded waits and retries, ``profile`` measures a model and
compares its outputs with tflite-micro.
"""

from .device import Device, DeviceError, LinkStats
from .protocol import HelloReply, InvokeDone, ProtocolError
from .transport import SerialTransport, Transport, TransportClosed, TransportError, TransportTimeout, open_transport

__all__ = ["Device", "DeviceError", "LinkStats", "HelloReply", "InvokeDone", "ProtocolError",
           "SerialTransport", "Transport", "TransportClosed", "TransportError", "TransportTimeout",
           "open_transport"]
