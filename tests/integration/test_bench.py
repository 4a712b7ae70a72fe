"""test_bench.py — tools/umbra-bench on one small configuration.

Two runs of the same configuration must write identical CSV rows (-icount
makes every count repeatable, and the published figures rely on it), and
the bench must fail loudly, naming the workload, when a checksum differs
from the expected one.  The hidden --expect-checksum option stands in for
a native checksum, so the real comparison code is what gets exercised.
"""
import os
import subprocess
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(REPO, "tools", "umbra-bench")
SMALL = ["--workloads", "compute", "--configs", "ssp", "--append", "iters=10", "--no-report"]


def bench(*args):
    return subprocess.run([BENCH] + SMALL + list(args), capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def bench_csv(path):
    p = bench("--csv", path)
    assert p.returncode == 0, "umbra-bench failed (%d):\n%s" % (p.returncode, p.stderr[-2000:])
    with open(path) as f:
        return f.read()


def test_repeatable_counts():
    with tempfile.TemporaryDirectory() as d:
        first = bench_csv(os.path.join(d, "a.csv"))
        second = bench_csv(os.path.join(d, "b.csv"))
    rows = first.strip().split("\n")
    assert len(rows) == 3, "expected a header and 2 rows (native, ssp):\n" + first
    assert "exits_full" in rows[0] and ",ssp," in rows[2], first
    assert first == second, "two identical runs differ:\n%s\n---\n%s" % (first, second)


def test_checksum_mismatch_fails():
    with tempfile.TemporaryDirectory() as d:
        p = bench("--csv", os.path.join(d, "a.csv"), "--expect-checksum", "0123456789abcdef")
    assert p.returncode != 0, "umbra-bench passed with a wrong expected checksum"
    assert "compute" in p.stderr and "checksum differs" in p.stderr, p.stderr[-2000:]


def test_several_vms_each_checked():
    """--vms 2: two VMs side by side per Umbra run, a row each, and each
    one's checksum held against native (tsp and ssp at once)."""
    import csv
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "v.csv")
        p = bench("--csv", path, "--vms", "2", "--configs", "tsp,ssp")
        assert p.returncode == 0, p.stderr[-2000:]
        with open(path) as f:
            rows = list(csv.DictReader(f))
    got = sorted((r["config"], r["vm"]) for r in rows)
    assert got == [("native", ""), ("ssp", "vm0"), ("ssp", "vm1"), ("tsp", "vm0"), ("tsp", "vm1")], got
    assert len({r["checksum"] for r in rows}) == 1, [r["checksum"] for r in rows]


TESTS = [
    ("repeatable_counts", test_repeatable_counts),
    ("checksum_mismatch_fails", test_checksum_mismatch_fails),
    ("several_vms_each_checked", test_several_vms_each_checked),
]
