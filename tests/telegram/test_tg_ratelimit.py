"""Unit tests of the per-user sliding-window limit."""

from __future__ import annotations

import pytest

from bot.telegram.ratelimit import SlidingWindowLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_allows_limit_then_refuses_with_one_notice():
    clock = Clock()
    lim = SlidingWindowLimiter(3, 60, clock=clock)
    assert [lim.hit("u").allowed for _ in range(3)] == [True, True, True]
    first = lim.hit("u")
    assert not first.allowed and first.notify and first.retry_after == pytest.approx(60)
    clock.now += 10
    again = lim.hit("u")
    assert not again.allowed and not again.notify and again.retry_after == pytest.approx(50)


def test_window_slides():
    clock = Clock()
    lim = SlidingWindowLimiter(2, 10, clock=clock)
    lim.hit("u")
    clock.now += 6
    lim.hit("u")
    assert not lim.hit("u").allowed
    clock.now += 4.01  # the first hit left the window, the second has not
    assert lim.hit("u").allowed
    assert not lim.hit("u").allowed


def test_refused_hits_do_not_count_and_notice_repeats_after_a_window():
    clock = Clock()
    lim = SlidingWindowLimiter(1, 10, clock=clock)
    assert lim.hit("u").allowed
    assert lim.hit("u").notify
    for _ in range(50):
        clock.now += 0.1
        assert not lim.hit("u").notify
    clock.now += 10
    assert lim.hit("u").allowed  # 15 s after the only allowed hit
    assert lim.hit("u").notify  # a new window: one new notice


def test_users_are_independent():
    lim = SlidingWindowLimiter(1, 60, clock=Clock())
    assert lim.hit(1).allowed and lim.hit(2).allowed
    assert not lim.hit(1).allowed


def test_memory_is_bounded_by_active_users():
    clock = Clock()
    lim = SlidingWindowLimiter(5, 1, clock=clock)
    for i in range(5000):
        clock.now += 0.01
        lim.hit(i)
    assert len(lim) < 1200  # idle users are purged


@pytest.mark.parametrize(("limit", "window"), [(0, 10), (1, 0), (1, -5)])
def test_bad_arguments(limit, window):
    with pytest.raises(ValueError, match=r"telegram.user_rate"):
        SlidingWindowLimiter(limit, window)
