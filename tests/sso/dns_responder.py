"""A tiny DNS responder for tests: answers TXT queries over UDP on 127.0.0.1, from a dict, with dnspython's message
parsing. It binds the first free port of 8853-8899 (the range this project's tests may use)."""

from __future__ import annotations

import socket
import threading

import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

PORTS = range(8853, 8900)


class LocalDNS:
    """``records``: name (no trailing dot) → TXT strings; a name mapped to [] exists without TXT records, any other
    name is NXDOMAIN. ``silent``: never answer (to test timeouts)."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.silent = False
        self.queries: list[str] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for port in PORTS:
            try:
                self._socket.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
        else:
            raise RuntimeError(f"No free UDP port in {PORTS.start}-{PORTS.stop - 1} for the test DNS responder.")
        self.port = self._socket.getsockname()[1]
        self._socket.settimeout(0.2)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> LocalDNS:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._socket.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                wire, peer = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            question = query.question[0]
            name = question.name.to_text(omit_final_dot=True).lower()
            self.queries.append(name)
            if self.silent:
                continue
            response = dns.message.make_response(query)
            if name not in self.records:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.TXT and self.records[name]:
                quoted = ['"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in self.records[name]]
                response.answer.append(
                    dns.rrset.from_text_list(question.name, 60, dns.rdataclass.IN, dns.rdatatype.TXT, quoted)
                )
            self._socket.sendto(response.to_wire(), peer)
