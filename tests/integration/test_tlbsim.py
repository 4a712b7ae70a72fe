"""test_tlbsim.py — the tlbsim QEMU plugin on short tinyos `tlb` runs and on
the Linux guest's `tlb` and `tlb2m`.

What must hold whatever the host's speed (-icount makes the counts exact, but
the tests assert relations, not exact figures, so that tuning the workload or
the model does not break them):
- the checksum under hap and ssp equals native's, and every simulated walk
  reached the physical address QEMU translated to (the bench checks both);
- a working set far beyond the L2 TLB misses at least once per page, while
  one smaller than the L1 TLB barely misses after warm-up;
- hap's walks are longer than native's (two-dimensional: more than 3x),
  ssp's are native's length (one-dimensional, over the shadow);
- a run repeats exactly;
- Linux's tlb misses on most updates natively, its tlb2m (the same updates
  over 16 pages of 2 MiB) hardly at all, with the same checksum, and hap
  walks Linux's 4 KiB pages two-dimensionally.
"""
import csv
import os
import subprocess
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(REPO, "tools", "umbra-bench-tlb")
BIG_PAGES = 2048     # 8 MiB: twice the L2 TLB's reach with 4 KiB pages
SMALL_PAGES = 16     # within the 32-entry L1 data TLB


LINUX_ITERS = 20000


def bench_csv(d, name, workloads, configs, append):
    out = os.path.join(d, name + ".csv")
    p = subprocess.run([BENCH, "--workloads", workloads, "--configs", configs, "--append", append,
                        "--csv", out, "--markdown", "-", "--jobs", "2"],
                       capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, "umbra-bench-tlb failed (%d):\n%s" % (p.returncode, p.stderr[-2000:])
    with open(out) as f:
        return list(csv.DictReader(f))


def bench_rows(d, name, pages, configs):
    rows = bench_csv(d, name, "tlb", configs, "iters=20000 size=%d" % pages)
    return {r["config"]: r for r in rows}


def per_walk(row):
    return int(row["walk_refs"]) / int(row["tlb_misses"])


def test_tlb_model_on_tinyos():
    with tempfile.TemporaryDirectory() as d:
        big = bench_rows(d, "big", BIG_PAGES, "hap,ssp")
        again = bench_rows(d, "again", BIG_PAGES, "hap")
        small = bench_rows(d, "small", SMALL_PAGES, "hap")
    nat, hap, ssp = big["native"], big["hap"], big["ssp"]
    assert int(nat["tlb_misses"]) >= BIG_PAGES, nat
    assert int(small["native"]["tlb_misses"]) < 200, small["native"]
    assert per_walk(hap) > 3 * per_walk(nat), (per_walk(hap), per_walk(nat))
    assert abs(per_walk(ssp) - per_walk(nat)) < 0.5, (per_walk(ssp), per_walk(nat))
    assert int(hap["modelled_cycles"]) > int(hap["modelled_cycles_no_walks"])
    for key in ("instret", "tlb_misses", "walk_refs", "checksum"):
        assert again["hap"][key] == hap[key], (key, again["hap"][key], hap[key])
    return "misses %s native, walk refs per miss %.1f native, %.1f hap, %.1f ssp" % (
        nat["tlb_misses"], per_walk(nat), per_walk(hap), per_walk(ssp))


def test_tlb_model_on_linux():
    with tempfile.TemporaryDirectory() as d:
        rows = bench_csv(d, "linux", "linux-tlb,linux-tlb2m", "hap", "iters=%d" % LINUX_ITERS)
    by = {(r["workload"], r["config"]): r for r in rows}
    small, huge = by[("linux-tlb", "native")], by[("linux-tlb2m", "native")]
    assert small["checksum"] == huge["checksum"], (small["checksum"], huge["checksum"])
    assert int(small["tlb_misses"]) >= LINUX_ITERS // 2, small
    assert int(huge["tlb_misses"]) * 20 < int(small["tlb_misses"]), (huge["tlb_misses"], small["tlb_misses"])
    hap = by[("linux-tlb", "hap")]
    assert per_walk(hap) > 3 * per_walk(small), (per_walk(hap), per_walk(small))
    return "misses %s on 4 KiB pages, %s on 2 MiB pages natively; walk refs per miss %.1f native, %.1f hap" % (
        small["tlb_misses"], huge["tlb_misses"], per_walk(small), per_walk(hap))


TESTS = [("model_on_tinyos", test_tlb_model_on_tinyos), ("model_on_linux", test_tlb_model_on_linux)]
