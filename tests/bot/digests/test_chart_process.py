"""Digest charts drawn by a child process (bot/digests/chart_process.py): the same PNG as drawn
in-process, a dead child replaced and the chart drawn again, no zombie, stopped by `close`.
Real child processes throughout; no timing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bot.digests.chart_process import ChartProcess, ChartProcessError
from bot.digests.chart_worker import ANSWER, ERROR, answer, chart_from_json, chart_to_json
from reports.digest.model import ChartData
from tests.reports.digest.samples import sample_digest

ROOT = Path(__file__).resolve().parents[3]


def _chart(language: str = "en") -> ChartData:
    return sample_digest(language).chart


@pytest.fixture
def started(monkeypatch) -> list[subprocess.Popen]:
    """Every child process the chart process starts."""
    from bot.digests import chart_process

    children, real = [], subprocess.Popen

    def recording(*args, **kwargs):
        children.append(real(*args, **kwargs))
        return children[-1]

    monkeypatch.setattr(chart_process.subprocess, "Popen", recording)
    return children


@pytest.fixture
def charts():
    process = ChartProcess()
    yield process
    process.close()


def test_the_chart_crosses_the_pipe_unchanged():
    chart = replace(_chart("zh"), attainment=(1 / 3, 1e-9, 2.5))
    assert chart_from_json(chart_to_json(chart)) == chart


def test_the_child_draws_the_same_png_as_the_server_would(charts):
    from reports.digest.chart import render_chart_png

    for language in ("en", "zh"):
        assert charts.draw(_chart(language)) == render_chart_png(_chart(language))
    assert charts.started == 1 and charts.drawn == 2


def test_an_empty_chart_starts_no_process():
    empty = ChartData(title="t", quota_title="q", funnel_title="f", reps=(), attainment=(),
                      stages=("Lead",), stage_counts=(0,))
    process = ChartProcess(command=[sys.executable, "-c", "raise SystemExit(3)"])
    assert process.draw(empty) is None
    assert process.started == 0 and process.pid is None


def test_a_killed_child_is_replaced_reaped_and_the_chart_drawn_again(charts):
    first = charts.draw(_chart())
    killed = charts.pid
    os.kill(killed, signal.SIGKILL)
    os.waitid(os.P_PID, killed, os.WEXITED | os.WNOWAIT)  # it is dead (not reaped yet)
    assert charts.draw(_chart()) == first
    assert charts.started == 2 and charts.pid not in (None, killed)
    assert _reaped(killed)


def test_a_child_that_keeps_dying_fails_the_chart_and_leaves_no_zombie(started):
    process = ChartProcess(command=[sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(ChartProcessError, match="chart process"):
        process.draw(_chart())
    assert process.started == len(started) == 2  # tried once more with a new child
    assert process.pid is None
    assert all(_reaped(child.pid) for child in started)


def test_a_child_that_does_not_answer_in_time_is_killed_and_replaced(started):
    silent = [sys.executable, "-c", "import sys, time; sys.stdin.read(); time.sleep(60)"]
    process = ChartProcess(command=silent, timeout=0.5)
    with pytest.raises(ChartProcessError, match="did not answer"):
        process.draw(_chart())
    assert process.started == len(started) == 2 and process.pid is None
    assert all(_reaped(child.pid) for child in started)


def test_a_chart_the_child_cannot_draw_is_an_error_and_the_child_goes_on():
    status, size = ANSWER.unpack(answer(b"{not json")[:ANSWER.size])
    assert status == ERROR and size > 0


def test_close_stops_the_child_and_a_later_chart_starts_another(charts):
    charts.draw(_chart())
    first = charts.pid
    charts.close()
    assert charts.pid is None and _reaped(first)
    assert charts.draw(_chart())
    assert charts.started == 2
    charts.close()


def test_an_idle_child_is_stopped_and_a_busy_one_kept():
    now = [0.0]
    process = ChartProcess(monotonic=lambda: now[0])
    try:
        process.draw(_chart())
        child = process.pid
        now[0] = 299.0
        assert not process.close_if_idle(300.0) and process.pid == child
        now[0] = 300.0
        assert process.close_if_idle(300.0)
        assert process.pid is None and _reaped(child)
    finally:
        process.close()


def test_the_child_ignores_ctrl_c_and_exits_when_its_stdin_ends():
    """A Ctrl-C reaches the whole process group: the server stops gracefully and closes the
    child's stdin itself; the child must not die with a traceback in the middle of a chart."""
    child = subprocess.Popen([sys.executable, "-m", "bot.digests.chart_worker"], cwd=ROOT,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        child.stdin.write(b"\0\0\0\x02{}")  # a request, so it has started answering
        child.stdin.flush()
        status, _size = ANSWER.unpack(child.stdout.read(ANSWER.size))
        assert status == ERROR  # {} is no chart
        child.send_signal(signal.SIGINT)
        child.stdin.close()
        assert child.wait(60) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True  # no such child of ours any more: it was reaped
    return False
