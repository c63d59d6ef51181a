#!/usr/bin/python3
"""Unit tests of analysis.py on synthetic decision streams."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analysis  # noqa: E402


def paced(start, end, rate):
    """Decision times of a client pacing `rate` per second in [start, end)."""
    n = int(round((end - start) * rate))
    return [start + i / rate for i in range(n)]


def series_of(times_by_agent):
    return {a: (sorted(t), analysis.prefix_sums([1] * len(t)))
            for a, t in times_by_agent.items()}


class MaxWindowTest(unittest.TestCase):
    def test_finds_the_densest_second(self):
        # 64/s for 3 s, with 50 extra at 512/s from 1.25 s (binary fractions:
        # exact in floating point, so no point sits on a window's edge by
        # rounding). Every 1 s window holds 64 of the steady ones.
        base = [1 / 1024 + k / 64 for k in range(192)]
        burst = [1.25 + i / 512 for i in range(50)]
        times = sorted(base + burst)
        best, start = analysis.max_window(times, [1] * len(times), 1.0)
        self.assertEqual(best, 114)
        self.assertLessEqual(start, 1.25)
        self.assertGreater(start, burst[-1] - 1.0)

    def test_window_is_half_open(self):
        times = [0.0, 0.5, 1.0]
        self.assertEqual(analysis.max_window(times, [1, 1, 1], 1.0)[0], 2)

    def test_weights_by_cost(self):
        self.assertEqual(analysis.max_window([0.0, 0.1, 2.0], [3, 4, 10],
                                             1.0)[0], 10)

    def test_empty(self):
        self.assertEqual(analysis.max_window([], [], 1.0)[0], 0)


class AdmittedInTest(unittest.TestCase):
    def test_counts_half_open_range(self):
        times = paced(0, 1, 10)  # 0.0, 0.1, ..., 0.9
        prefix = analysis.prefix_sums([1] * len(times))
        self.assertEqual(analysis.admitted_in(times, prefix, 0.0, 0.5), 5)
        self.assertEqual(analysis.admitted_in(times, prefix, 0.55, 2.0), 4)
        self.assertEqual(analysis.admitted_in(times, prefix, 2.0, 3.0), 0)


class MaxMinFairTest(unittest.TestCase):
    def test_all_want_more_than_equal(self):
        self.assertEqual(analysis.max_min_fair({0: 3000, 1: 2000}, 1000),
                         {0: 500.0, 1: 500.0})

    def test_small_demand_is_met_and_rest_split(self):
        shares = analysis.max_min_fair({0: 100, 1: 2000, 2: 5000}, 1000)
        self.assertEqual(shares, {0: 100.0, 1: 450.0, 2: 450.0})

    def test_cascade(self):
        shares = analysis.max_min_fair({0: 100, 1: 300, 2: 5000}, 1000)
        self.assertEqual(shares, {0: 100.0, 1: 300.0, 2: 600.0})

    def test_everything_fits(self):
        self.assertEqual(analysis.max_min_fair({0: 100, 1: 200}, 1000),
                         {0: 100.0, 1: 200.0})

    def test_zero_demand_gets_nothing(self):
        self.assertEqual(analysis.max_min_fair({0: 0, 1: 2000}, 1000),
                         {0: 0.0, 1: 1000.0})


class ConvergenceTest(unittest.TestCase):
    def test_smooth_takeover(self):
        # Agent 1 admits nothing for 300 ms after the shift at t=1, then
        # its full share of 1000/s.
        s = series_of({1: paced(1.3, 3.0, 1000)})
        reached, settled = analysis.convergence(s, {1: 1000.0}, 1.0, 3.0)
        # First window at >= 900/s starts at 1.3 - 0.02 (180 of 200 in it).
        self.assertAlmostEqual(reached, 0.28, places=6)
        self.assertAlmostEqual(settled, 0.28, places=6)

    def test_lumpy_leases_reach_but_never_settle(self):
        # 500 tokens spent at 2000/s every second: bursts of 250 ms.
        t = []
        for k in range(2):
            t += paced(1.0 + k, 1.25 + k, 2000)
        s = series_of({1: t})
        reached, settled = analysis.convergence(s, {1: 1000.0}, 1.0, 3.0)
        self.assertEqual(reached, 0.0)
        self.assertIsNone(settled)

    def test_late_dip_moves_settling(self):
        # Fair at once, but a 300 ms hole at 2.0-2.3.
        t = paced(1.0, 2.0, 1000) + paced(2.3, 3.0, 1000)
        s = series_of({1: t})
        reached, settled = analysis.convergence(s, {1: 1000.0}, 1.0, 3.0)
        self.assertEqual(reached, 0.0)
        self.assertAlmostEqual(settled, 1.28, places=6)

    def test_every_agent_must_have_its_share(self):
        s = series_of({0: paced(0, 2, 500), 1: paced(0, 2, 300)})
        shares = {0: 500.0, 1: 500.0}
        self.assertEqual(analysis.convergence(s, shares, 0.0, 2.0),
                         (None, None))


class CounterRateTest(unittest.TestCase):
    def test_interpolates(self):
        samples = [(0.0, 0.0), (1.0, 10.0), (2.0, 30.0)]
        self.assertAlmostEqual(analysis.counter_rate(samples, 0.5, 1.5), 15.0)
        self.assertAlmostEqual(analysis.counter_at(samples, 5.0), 30.0)

    def test_no_samples(self):
        self.assertIsNone(analysis.counter_rate([], 0.0, 1.0))


if __name__ == "__main__":
    unittest.main()
