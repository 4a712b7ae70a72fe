"""test_demo.py — `make run`'s demo (tools/umbra-demo): it ends 0 and prints
one table with every mode side by side, and the table says what the runs'
own exit reports say (its --csv copy), cause by cause.  One vCPU under
-icount, no device: every figure repeats, so the comparison is exact."""
import csv
import os
import subprocess
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(REPO, "tools", "umbra-demo")


def cells(line):
    return [c.strip().strip("*") for c in line.strip().strip("|").split("|")]


def test_demo_table_matches_the_exit_reports():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "demo.csv")
        p = subprocess.run([DEMO, "--append", "iters=60", "--csv", path], capture_output=True, text=True,
                           timeout=300, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, "umbra-demo failed (%d):\n%s" % (p.returncode, p.stderr[-2000:])
        with open(path) as f:
            by = {r["config"]: r for r in csv.DictReader(f)}
    out = p.stdout
    lines = [l for l in out.split("\n") if l.startswith("|")]
    assert cells(lines[0])[1:] == ["hap", "tsp", "ssp", "ssp, no buffer"], lines[0]
    configs = ["hap", "tsp", "ssp", "ssp-sptbuf0"]
    rows = {cells(l)[0]: cells(l)[1:] for l in lines[2:]}
    for cause in ("wp_fault", "hidden_fault", "satp_write_hit", "sfence_va_asid"):
        for cfg, cell in zip(configs, rows[cause]):
            full = int(by[cfg]["full_" + cause])
            fast = int(by[cfg]["fast_" + cause])
            want = format(full, ",") + (" + %s fast" % format(fast, ",") if fast else "")
            assert cell == want, (cause, cfg, cell, want)
    # What the demo is there to show: hap takes no memory exit, tsp emulates
    # page-table stores, ssp takes none of those and switches on the fast path.
    assert rows["wp_fault"][0] == "0" and rows["wp_fault"][2] == "0" and rows["wp_fault"][1] != "0", rows
    assert "fast" in rows["satp_write_hit"][2] and "fast" not in rows["satp_write_hit"][3], rows
    assert len({by[c]["checksum"] for c in by}) == 1 and "native" in by, sorted(by)
    assert "checksum %s in every run" % by["native"]["checksum"] in out, out[:400]
    assert "How to read it" in out and "make bench" in out, out[-800:]
    return "%s exits under tsp, %s under ssp" % (by["tsp"]["exits_full"], by["ssp"]["exits_full"])


TESTS = [
    ("table_matches_the_exit_reports", test_demo_table_matches_the_exit_reports),
]
