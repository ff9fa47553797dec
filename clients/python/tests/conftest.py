"""A real `spil-hub demo` for the tests: started on a free port with its
own freshly made certificates and database, stopped at the end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from spil import Hub

REPOSITORY = Path(__file__).resolve().parents[3]


def hub_binary() -> Path:
    """`SPIL_HUB_BINARY`, or the debug build of this checkout."""
    configured = os.environ.get("SPIL_HUB_BINARY")
    binary = Path(configured) if configured else REPOSITORY / "target" / "debug" / "spil-hub"
    if not binary.exists():
        pytest.fail(f"no spil-hub at {binary}: run `cargo build -p spil-hub` first")
    return binary


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RunningHub:
    """One `spil-hub demo` process, restartable on the same port and data."""

    directory: Path
    port: int
    fhir_port: int
    process: subprocess.Popen[str] | None = None

    @property
    def target(self) -> str:
        return f"localhost:{self.port}"

    def start(self) -> None:
        # The hub refuses SPIL_ settings it does not know: it gets none of ours.
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SPIL_")}
        environment["SPIL_SHUTDOWN_DRAIN_MS"] = "0"
        environment["SPIL_FHIR_LISTEN_ADDR"] = f"127.0.0.1:{self.fhir_port}"
        self.process = subprocess.Popen(
            [
                str(hub_binary()),
                "demo",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=environment,
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            # The FHIR listener is announced last.
            if line.startswith("spil-hub FHIR on"):
                return
        raise RuntimeError("spil-hub exited before it listened")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
            self.process = None

    @property
    def fhir_base(self) -> str:
        return f"https://localhost:{self.fhir_port}/fhir"

    def credentials(self, organisation: str) -> tuple[Path, Path, Path]:
        """The server CA, and an organisation's certificate and key."""
        pki = self.directory / "pki"
        return (
            pki / "server-ca.pem",
            pki / "orgs" / f"{organisation}.pem",
            pki / "orgs" / f"{organisation}-key.pem",
        )

    def connect(self, organisation: str, person: str | None = None) -> Hub:
        pki = self.directory / "pki"
        return Hub.from_files(
            self.target,
            ca=pki / "server-ca.pem",
            cert=pki / "orgs" / f"{organisation}.pem",
            key=pki / "orgs" / f"{organisation}-key.pem",
            person=person,
        )


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    running = RunningHub(tmp_path_factory.mktemp("hub"), free_port(), free_port())
    running.start()
    yield running
    running.stop()


@pytest.fixture
def as_org(hub: RunningHub) -> Iterator[Callable[..., Hub]]:
    """A client acting as a demo organisation (and, optionally, a person)."""
    opened: list[Hub] = []

    def connect(organisation: str, person: str | None = None) -> Hub:
        client = hub.connect(organisation, person)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.close()
