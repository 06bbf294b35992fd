"""The test servers' port choice: a server process cannot be handed a bound socket, so its
port is chosen first; one that lost the port before binding it is started again."""

from __future__ import annotations

import pytest

from tests.servers import PORT_ATTEMPTS, start_on, start_on_a_free_port


class Process:
    def __init__(self, exited: bool) -> None:
        self.exited = exited

    def poll(self):
        return 1 if self.exited else None


def test_a_server_that_lost_its_port_starts_again_on_another():
    tried: list[int] = []

    def start(port: int):
        tried.append(port)
        if len(tried) == 1:  # another process bound it between the choice and the start
            return Process(exited=True)
        return None

    assert start_on_a_free_port(start) == tried[-1]
    assert len(tried) == 2


def test_a_server_that_runs_but_never_answers_is_not_retried():
    tried: list[int] = []

    def start(port: int):
        tried.append(port)
        return Process(exited=False)

    with pytest.raises(RuntimeError, match="did not start"):
        start_on_a_free_port(start)
    assert len(tried) == 1


def test_ports_run_out_and_a_restart_keeps_its_port():
    with pytest.raises(RuntimeError, match=f"after {PORT_ATTEMPTS} ports"):
        start_on_a_free_port(lambda port: Process(exited=True))
    assert start_on(4321, lambda port: None, "chroma") == 4321
    with pytest.raises(RuntimeError, match="chroma did not start on port 4321"):
        start_on(4321, lambda port: Process(exited=True), "chroma")
