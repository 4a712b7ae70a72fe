"""test_bench.py — tools/umbra-bench on one small configuration.

Two runs of the same configuration must write identical CSV rows (-icount
makes every count repeatable, and the published figures rely on it), and
the bench must fail loudly, naming the workload, when a checksum differs
from the expected one.  The hidden --expect-checksum option stands in for
a native checksum, so the real comparison code is what gets exercised.
The Linux part (--linux) runs once more on a small scale: two vCPUs, one short
workload plus the boot-only baseline, natively and under hap and ssp.
"""
import csv
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


LINUX_SMALL = ["--linux", "--linux-workloads", "compute", "--configs", "hap,ssp",
               "--linux-append", "iters=2", "--linux-cpus", "2"]


def linux_bench(path):
    import csv
    p = subprocess.run([BENCH] + LINUX_SMALL + ["--linux-csv", path], capture_output=True, text=True,
                       timeout=180, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, "umbra-bench --linux failed (%d):\n%s" % (p.returncode, p.stderr[-2000:])
    with open(path) as f:
        return p, list(csv.DictReader(f))


def test_linux_part():
    """--linux: the boot-only baseline runs too, every checksum matches native,
    /init's figures and the exit report land in the CSV, the report section
    comes out on stdout, and runs repeat exactly, natively too (umbra-run
    --icount fixes the rng-seed QEMU gives a native kernel)."""
    with tempfile.TemporaryDirectory() as d:
        p, first = linux_bench(os.path.join(d, "a.csv"))
        _, second = linux_bench(os.path.join(d, "b.csv"))
    got = [(r["workload"], r["config"]) for r in first]
    want = [(w, c) for w in ("none", "compute") for c in ("native", "hap", "ssp")]
    assert got == want, got
    for r in first:
        assert int(r["boot_ns"]) > 0 and int(r["boot_instret"]) > 0 and r["workload_ns"] != "", r
        assert r["config"] == "native" or int(r["exits_full"]) > 0, r
    none = [r for r in first if r["workload"] == "none"]
    assert {(r["iters"], r["checksum"]) for r in none} == {("0", "0" * 16)}, none
    assert len({r["checksum"] for r in first if r["workload"] == "compute"}) == 1, first
    assert "mm_remote_flushes" in first[1], sorted(first[1])
    assert first == second, "two identical Linux bench runs differ"
    assert all(r["vcpus"] == "2" for r in first), first
    assert "## Linux guest, 2 vCPUs" in p.stdout and "boot subtracted" in p.stdout, p.stdout[:2000]


def test_pci_part():
    """tools/umbra-bench-pci on 1 MiB: every mode reads the native checksum
    (the tool checks), the data path costs no exit in any mode, and Umbra's
    counts repeat exactly (the guest's own timing does not, by design)."""
    rows = []
    for _ in range(2):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "p.csv")
            p = subprocess.run([os.path.join(REPO, "tools", "umbra-bench-pci"), "--mib", "1", "--no-report",
                                "--csv", path], capture_output=True, text=True, timeout=300,
                               stdin=subprocess.DEVNULL)
            assert p.returncode == 0, "umbra-bench-pci failed (%d):\n%s" % (p.returncode, p.stderr[-2000:])
            with open(path) as f:
                rows.append(list(csv.DictReader(f)))
    first, second = rows
    by = {(r["config"], r["phase"]): r for r in first}
    assert set(c for c, _ in by) == {"native", "hap", "tsp", "ssp"}, sorted(by)
    exact = ("exits_full", "exits_fast", "instret_umbra", "mm_iommu_commands", "full_mmio")
    for a, b in zip(first, second):
        assert all(a.get(k) == b.get(k) for k in exact), "Umbra's counts differ between runs: %s %s" % (a, b)
    for mode in ("hap", "tsp", "ssp"):
        base, read = by[(mode, "bring-up")], by[(mode, "read")]
        # 256 blocks read: no mmio exit and no G-stage fault for any of them,
        # and at most a handful of exits in all (console lines, tsp's first touches).
        assert read["full_mmio"] == base["full_mmio"], (mode, read["full_mmio"], base["full_mmio"])
        assert int(read["exits_full"]) - int(base["exits_full"]) < 64, (mode, read["exits_full"])
        assert base["mm_iommu_commands"] == "4" and int(base["full_mmio"]) > 0, base


TESTS = [
    ("repeatable_counts", test_repeatable_counts),
    ("checksum_mismatch_fails", test_checksum_mismatch_fails),
    ("several_vms_each_checked", test_several_vms_each_checked),
    ("linux_part", test_linux_part),
    ("pci_part", test_pci_part),
]
