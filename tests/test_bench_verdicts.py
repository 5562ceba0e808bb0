"""The benchmark's verdicts against issue 7's targets: each threshold on the right side, and the
memory shown in both units (a measured number must never pass by a unit mix-up)."""

from __future__ import annotations

from bot.bench import percentile, table, verdicts


def _results(*, b_msgs: float = 60.0, b_p99: float = 250.0, burst_p99: float = 25.0,
             ratio: float = 1.1, rss: float = 900.0) -> dict:
    ack = {"count": 300, "concurrency": 10, "p50_ms": 9.0, "p95_ms": 18.0, "p99_ms": burst_p99}
    steady = {"count": 300, "rate": 5.0, "p50_ms": 2.0, "p95_ms": 3.0, "p99_ms": 4.0}
    load = [{"kind": "stock", "concurrency": 20, "messages": 300, "throughput": 20.0,
             "p50_ms": 900.0, "p99_ms": 1500.0, "slowest_first_message_ms": 800.0},
            {"kind": "whatsapp", "concurrency": 20, "messages": 300, "throughput": b_msgs,
             "p50_ms": 200.0, "p99_ms": b_p99, "slowest_first_message_ms": b_p99}]
    long = [{"kind": "whatsapp", "turns": 200, "runs": 3, "first10_p50_ms": 20.0,
             "last10_p50_ms": 20.0 * ratio, "ratio": ratio}]
    return {"model": "m", "started": "now", "ack": ack, "ack_steady": steady, "load": load,
            "long": long, "rss_mb": {"product instance (all processes)": rss}}


def _met(results: dict) -> dict[str, bool]:
    return {target.split(" ≤")[0].split(" ≥")[0]: met for target, _, met in verdicts(results)}


def test_all_targets_met() -> None:
    assert all(_met(_results()).values())


def test_each_target_can_fail() -> None:
    assert not _met(_results(b_msgs=39.0))["(b) throughput"]
    assert not _met(_results(b_p99=301.0))["(b) p99"]
    assert not [met for target, _, met in verdicts(_results(burst_p99=30.5))
                if "burst" in target][0]
    assert not _met(_results(ratio=1.21))["(b) turn-200 p50"]
    assert not _met(_results(rss=1025.0))["resident memory"]


def test_memory_is_shown_in_both_units() -> None:
    measured = {target: value for target, value, _ in verdicts(_results(rss=973.0))}
    memory = next(value for target, value in measured.items() if "memory" in target)
    assert memory == "973 MiB = 1020 MB (over 10^9 bytes)"
    assert "973 MiB" in table(_results(rss=973.0))


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 99) == 99.0
    assert percentile(values, 50) == 50.0


def test_p99_of_300_is_the_297th_value() -> None:
    values = [float(v) for v in range(1, 301)]
    assert percentile(values, 99) == 297.0
    assert percentile(values, 100) == 300.0
    assert percentile(values, 0) == 1.0
    assert percentile([5.0], 99) == 5.0


def test_memory_lines_show_the_mapped_files_share() -> None:
    results = {**_results(rss=816.0),
               "rss_mb": {"core": 667.0, "product instance (all processes)": 816.0},
               "file_mb": {"core": 104.0}}
    text = table(results)
    assert "- resident memory, core: 667 MiB (of which mapped files: 104 MiB)" in text
    assert "- resident memory, product instance (all processes): 816 MiB\n" in text


def test_resident_memory_of_this_process_splits_into_files_and_the_rest() -> None:
    import os

    from bot.bench import rss_mb

    whole, files, anonymous = (rss_mb(os.getpid(), f) for f in ("VmRSS", "RssFile", "RssAnon"))
    assert 0 < files < whole and 0 < anonymous < whole
    assert abs(whole - files - anonymous - rss_mb(os.getpid(), "RssShmem")) < 16  # moves a bit
