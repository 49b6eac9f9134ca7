"""bench/bench_cycles.py's memory measure: growth from medians of many readings, so one reading
at either end of the allocator's band cannot decide the goal, while a real leak still shows."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def rss_growth(bench_module):
    return bench_module("bench_cycles").rss_growth


def test_a_band_without_trend_reads_as_no_growth_even_from_its_low_end(rss_growth):
    rng = np.random.default_rng(0)
    readings = 600.0 + rng.uniform(-40.0, 40.0, 1000)
    readings[:49] = 400.0  # warm-up: loads on first use
    readings[49] = 560.0  # the one reading after 50 samples at the band's low end
    readings[-1] = 640.0  # and the last at its high end: one-against-one says +80 MB
    early, late, growth, slope = rss_growth(readings)
    assert abs(early - 600.0) < 10 and abs(late - 600.0) < 10
    assert abs(growth) < 15
    assert abs(slope) < 2.0


def test_a_steady_leak_shows_in_growth_and_trend(rss_growth):
    rng = np.random.default_rng(1)
    n = np.arange(1, 1001)
    readings = 600.0 + 0.1 * n + rng.uniform(-40.0, 40.0, n.size)  # 10 MB per 100 samples
    early, late, growth, slope = rss_growth(readings)
    assert 75 < growth < 105  # medians at samples ~100 and ~950: 85 MB apart
    assert 9.0 < slope < 11.0


def test_too_few_readings_are_refused(rss_growth):
    with pytest.raises(ValueError, match="at least 250"):
        rss_growth(np.zeros(249))
