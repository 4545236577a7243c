"""The client's Ctrl+C: whenever it comes after a job was asked for, the job is cancelled and followed to its end."""

from __future__ import annotations

import os
import signal
import time

import pytest

from curation import jobs
from curation.client import DirectProject, connect, interrupts_held
from helpers import make_operation, slow_job


def test_ctrl_c_is_held_while_a_job_starts_and_the_handler_comes_back():
    before = signal.getsignal(signal.SIGINT)
    with interrupts_held() as interrupted:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
    assert interrupted
    assert signal.getsignal(signal.SIGINT) is before


def test_a_second_ctrl_c_while_a_job_starts_gives_up_waiting():
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with interrupts_held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
    assert signal.getsignal(signal.SIGINT) is before


def test_ctrl_c_between_the_start_and_its_answer_cancels_the_job(project_copy, monkeypatch):
    monkeypatch.setitem(jobs.OPERATIONS, "slow", make_operation("slow", slow_job(400)))
    start = DirectProject.start

    def start_then_ctrl_c(self, kind, **params):
        job = start(self, kind, **params)
        os.kill(os.getpid(), signal.SIGINT)
        return job

    monkeypatch.setattr(DirectProject, "start", start_then_ctrl_c)
    client = connect(project_copy)
    try:
        job = client.run("slow", progress=lambda job: None)
    except KeyboardInterrupt:
        pytest.fail("Ctrl+C while the job was starting ended the client and left the job running")
    assert job["status"] == "cancelled" and job["message"] == "stopped early"
