"""Fixtures for the deadline tests: members of every role and a real SMTP server (aiosmtpd)
listening on a free local port for the digests."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller

from tests import factories


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def text(self) -> str:
        from email import message_from_bytes, policy

        message = message_from_bytes(self.content, policy=policy.default)
        return f"Subject: {message['Subject']}\n" + message.get_body(("plain",)).get_content()


@dataclass
class Recorder:
    """aiosmtpd handler keeping every message; addresses in `refuse` get a 550 at RCPT."""

    messages: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 Destinataire inconnu"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.rcpt_tos]


@dataclass
class SmtpServer:
    port: int
    handler: Recorder


@pytest.fixture
def smtp_server():
    handler = Recorder()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(port, handler)
    finally:
        controller.stop()


@pytest.fixture
def members(org):
    return {role: factories.user(org, role) for role in ("volunteer", "lawyer", "coordinator", "admin")}
