"""Timing and process readings shared by every figure: alternating rounds, CPU use, memory, files."""

import os
import resource
import statistics
import time


def time_alternating(calls: dict, rounds: int, warm_up=None) -> dict:
    """Times callables alternately, after untimed warm-up calls.

    The order rotates every round, so a slow spell of the machine falls on every variant.
    A warmed-up callable gets one untimed call (tracing, compiling); when that took under 10 s
    it gets another, and more while they take under half a second (at most 3 more): short
    calls settle over a few repeats, long ones are not worth repeating.

    Args:
      calls: name -> callable taking no argument (it must return when its work is done).
      rounds: timed calls of each.
      warm_up: names to warm up (default: all).

    Returns:
      name -> {"median": seconds, "seconds": [each round], "first_call": warm-up seconds (0
      when not warmed up), "cpu_per_wall": median of this process's CPU seconds (user+system)
      per wall second over the timed calls; 2.0 means both cores of a 2-core machine busy}.
    """
    names = list(calls)
    warm_up = names if warm_up is None else list(warm_up)
    results = {name: {"seconds": [], "cpu": [], "first_call": 0.0} for name in names}
    for name in warm_up:
        started = time.perf_counter()
        calls[name]()
        results[name]["first_call"] = time.perf_counter() - started
        last = 0.0 if results[name]["first_call"] < 10.0 else float("inf")
        for _ in range(3):
            if last >= 0.5:
                break
            started = time.perf_counter()
            calls[name]()
            last = time.perf_counter() - started
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            cpu_before, started = cpu_seconds(), time.perf_counter()
            calls[name]()
            wall = time.perf_counter() - started
            results[name]["seconds"].append(wall)
            results[name]["cpu"].append((cpu_seconds() - cpu_before) / max(wall, 1e-9))
    for result in results.values():
        result["median"] = statistics.median(result["seconds"])
        result["cpu_per_wall"] = statistics.median(result.pop("cpu"))
    return results


def cpu_seconds() -> float:
    """User plus system CPU seconds of this process (all threads) so far."""
    usage = os.times()
    return usage.user + usage.system


RESIDENT_KINDS = ("RssAnon", "RssFile", "RssShmem")  # VmRSS is their sum (Linux)


def memory_kilobytes() -> dict:
    """This process's peak and current resident memory in kB: {"VmHWM": ..., "VmRSS": ...}, and
    on Linux the current memory by kind (`RESIDENT_KINDS`: anonymous, file-backed, shared)."""
    found = {}
    try:
        with open("/proc/self/status", encoding="utf-8") as handle:
            for line in handle:
                name, _, value = line.partition(":")
                if name in ("VmHWM", "VmRSS") + RESIDENT_KINDS:
                    found[name] = int(value.split()[0])
    except OSError:  # not Linux: the peak from getrusage (kB on Linux, bytes on macOS)
        found["VmHWM"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return found


def open_files() -> int:
    """File descriptors this process holds open (-1 where /proc is not available)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return -1


def rounded(value, digits: int = 4):
    """`value` with every float rounded to `digits` significant digits (dicts and lists walked)."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {key: rounded(item, digits) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(item, digits) for item in value]
    return value
