"""A real `spil-hub demo` for the tests: started on ports of its own choosing
with its own freshly made certificates and database, stopped at the end."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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


def announced_port(line: str) -> int:
    """The port in "spil-hub … on 127.0.0.1:<port>" or "… on https://127.0.0.1:<port>/fhir"."""
    address = line.split(" on ", 1)[1].strip().removeprefix("https://").split("/", 1)[0]
    return int(address.rsplit(":", 1)[1])


@dataclass
class RunningHub:
    """One `spil-hub demo` process, restartable on the same ports and data.

    The first start listens on port 0 and keeps the ports the hub announces; a
    port probed free beforehand can be taken by any outgoing connection
    before the hub binds it. A restart takes the same ports back, so a client
    resumes where it was."""

    directory: Path
    port: int = 0
    fhir_port: int = 0
    admin_port: int = 0
    process: subprocess.Popen[str] | None = None
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return f"localhost:{self.port}"

    def start(self) -> None:
        # The hub refuses SPIL_ settings it does not know: it gets none of ours.
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SPIL_")}
        environment["SPIL_SHUTDOWN_DRAIN_MS"] = "0"
        environment["SPIL_FHIR_LISTEN_ADDR"] = f"127.0.0.1:{self.fhir_port}"
        environment["SPIL_ADMIN_ADDR"] = f"127.0.0.1:{self.admin_port}"
        environment.update(self.settings)
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
            if line.startswith("spil-hub listening on "):
                self.port = announced_port(line)
            elif line.startswith("spil-hub admin on "):
                self.admin_port = announced_port(line)
            # The FHIR listener is announced last.
            elif line.startswith("spil-hub FHIR on "):
                self.fhir_port = announced_port(line)
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
    running = RunningHub(tmp_path_factory.mktemp("hub"))
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
