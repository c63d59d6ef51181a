"""Pure analysis of a fidelity run: no I/O, no clock.

Every function takes decision timestamps (seconds, any common origin) and
returns numbers; fidelity.py turns them into the table. Tested by
analysis_test.py on synthetic data.
"""

import bisect
import math


def prefix_sums(costs):
    """prefix[i] = sum(costs[:i])."""
    out = [0]
    for c in costs:
        out.append(out[-1] + c)
    return out


def admitted_in(times, prefix, start, end):
    """Cost admitted in [start, end): `times` sorted, `prefix` its sums."""
    lo = bisect.bisect_left(times, start)
    hi = bisect.bisect_left(times, end)
    return prefix[hi] - prefix[lo]


def max_window(times, costs, width):
    """The most cost admitted in any window [t, t + width).

    `times` sorted. A window holding the most starts at some decision, so
    trying every decision as the start is exact. Returns (amount, start).
    """
    best, best_start = 0, (times[0] if times else 0.0)
    total, j = 0, 0
    for i, t in enumerate(times):
        while j < len(times) and times[j] < t + width:
            total += costs[j]
            j += 1
        if total > best:
            best, best_start = total, t
        total -= costs[i]
    return best, best_start


def max_min_fair(demands, capacity):
    """Max-min fair shares of `capacity` among {name: demand}.

    An agent that wants less than an equal share gets what it wants; the
    rest is split equally among the others.
    """
    shares = {}
    left = dict((k, float(v)) for k, v in demands.items() if v > 0)
    cap = float(capacity)
    while left:
        equal = cap / len(left)
        small = {k: v for k, v in left.items() if v <= equal}
        if not small:
            for k in left:
                shares[k] = equal
            break
        for k, v in small.items():
            shares[k] = v
            cap -= v
            del left[k]
    for k in demands:
        shares.setdefault(k, 0.0)
    return shares


def window_rates(series, agents, t, width):
    """{agent: admitted rate in [t, t + width)}; `series`: {agent: (sorted
    times, prefix sums)}."""
    rates = {}
    for k in agents:
        times, prefix = series.get(k, ([], [0]))
        rates[k] = admitted_in(times, prefix, t, t + width) / width
    return rates


def has_fair_share(rates, shares, fraction):
    """Every agent with a share admits at least `fraction` of it. When the
    shares add up to the limit this also bounds each from above: what one
    takes beyond its share another lacks (or the limit was overshot, which
    the safety checks catch)."""
    return all(rates.get(k, 0.0) >= fraction * s
               for k, s in shares.items() if s > 0)


def convergence(series, shares, shift, end, width=0.2, step=0.01,
                fraction=0.9):
    """How long after `shift` the split reaches and settles at fair.

    Windows [t, t + width) for t = shift, shift + step, ... while the
    window ends by `end`; a window is fair when every agent with a share
    admits at least `fraction` of it (has_fair_share). Returns
    (reached, settled) in seconds after `shift`: the start of the first fair
    window, and the start of the first window from which every later one is
    fair; None when there is none.
    """
    n = int(math.floor((end - width - shift) / step + 1e-9)) + 1
    fair = [has_fair_share(window_rates(series, shares, shift + i * step,
                                        width), shares, fraction)
            for i in range(max(0, n))]
    reached = next((i * step for i, ok in enumerate(fair) if ok), None)
    settled = None
    for i in range(len(fair) - 1, -1, -1):
        if not fair[i]:
            break
        settled = i * step
    return reached, settled


def counter_at(samples, t):
    """A counter's value at `t`, linearly interpolated between samples
    [(time, value)] sorted by time; clamped to the first/last sample."""
    if not samples:
        return None
    if t <= samples[0][0]:
        return samples[0][1]
    if t >= samples[-1][0]:
        return samples[-1][1]
    i = bisect.bisect_right([s[0] for s in samples], t)
    (t0, v0), (t1, v1) = samples[i - 1], samples[i]
    if t1 == t0:
        return v1
    return v0 + (v1 - v0) * (t - t0) / (t1 - t0)


def counter_rate(samples, start, end):
    """Per-second increase of a sampled counter over [start, end]."""
    a, b = counter_at(samples, start), counter_at(samples, end)
    if a is None or b is None or end <= start:
        return None
    return (b - a) / (end - start)
