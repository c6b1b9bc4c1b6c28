"""A bulk job collects garbage less often, and the process's own settings come back after it."""

from __future__ import annotations

import gc

import pytest

from interfaces.gc_policy import bulk_work


def test_the_settings_come_back_when_the_last_of_two_overlapping_jobs_ends() -> None:
    before = gc.get_threshold()
    first, second = bulk_work(), bulk_work()
    first.__enter__()
    assert gc.get_threshold()[0] >= 50_000
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold()[0] >= 50_000  # the other job still runs
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before


def test_a_job_that_fails_gives_the_settings_back() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), bulk_work():
        raise RuntimeError("the import went wrong")
    assert gc.get_threshold() == before
