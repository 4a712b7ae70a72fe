"""QEMU integration tests of guests/tinyos, the tiny Unix-like guest kernel:
every workload (with small iteration counts) natively and under hap must
shut down cleanly and print the same RESULT lines, cycles= and instret=
aside (those legitimately differ under a hypervisor).  Also: icount runs
repeat exactly, the ASID-recycling paths compute the same checksums, and a
failed check ends the run with the failure status."""
import re

from common import expect, expect_same_guest_output, guest_image, umbra_run

TINYOS = guest_image("tinyos")
MEM = "128M"

# Small runs: a few million instructions each.
SMALL = {
    "ctxsw": "iters=200 procs=8",
    "fork": "iters=40 size=8",
    "mmap": "iters=60 size=16",
    "pagefault": "iters=2 size=512",
    "compute": "iters=20 procs=4 size=4",
    "mix": "iters=3 procs=4 size=4",
}

RESULT_RE = re.compile(r"^RESULT workload=(\w+) iters=(\d+) checksum=([0-9a-f]{16}) "
                       r"cycles=(\d+) instret=(\d+)$")


def results(run):
    """RESULT lines without their cycles= and instret= fields."""
    out = []
    for line in run.lines("RESULT "):
        m = RESULT_RE.match(line)
        expect(m is not None, run, "malformed RESULT line: %r" % line)
        out.append("workload=%s iters=%s checksum=%s" % m.group(1, 2, 3))
    return out


def run_tinyos(append, *extra):
    return umbra_run("--kernel", TINYOS, "--mem", MEM, "--append", append, *extra)


def expect_passed(run, what):
    """Exit status 0 and tinyos's own verdict.  Natively the status alone
    proves nothing: OpenSBI powers off with status 0 whatever the SRST
    reason, so the closing line is what tells a pass."""
    lines = run.lines("tinyos:")
    fails = [l for l in lines if l.startswith("tinyos: FAIL")]
    expect(run.rc == 0 and not fails and lines and
           lines[-1] == "tinyos: all workloads passed their checks", run, what)


def native_and_hap_agree(workload, args):
    append = "workload=%s %s" % (workload, args)
    native = run_tinyos(append, "--native")
    virt = run_tinyos(append)
    expect_passed(native, "native tinyos %s must pass its checks" % workload)
    expect_passed(virt, "tinyos %s under hap must pass its checks" % workload)
    a, b = results(native), results(virt)
    expect(len(a) == 1 and a[0].startswith("workload=%s " % workload), native,
           "expected one RESULT line for %s" % workload)
    expect(a == b, virt, "RESULT differs: native %s, hap %s" % (a, b))
    # Every other line too, except the " measure " lines of kernel counters.
    expect_same_guest_output(native, virt, "tinyos:")
    expect(any(l.startswith("tinyos: start workload=%s" % workload) for l in virt.lines("tinyos:")),
           virt, "the user-mode console write of the first process is missing")
    return a[0].split()[-1]


def make_workload_test(workload):
    return lambda: native_and_hap_agree(workload, SMALL[workload])


def all_defaults_native_matches_hap():
    """workload=all at the default sizes (the figures in docs/tinyos.md)."""
    native = run_tinyos("workload=all", "--native")
    virt = run_tinyos("workload=all")
    expect_passed(native, "native workload=all must pass its checks")
    expect_passed(virt, "workload=all under hap must pass its checks")
    expect(len(results(native)) == 6, native, "workload=all must print six RESULT lines")
    expect(results(native) == results(virt), virt,
           "RESULT differs: native %s, hap %s" % (results(native), results(virt)))
    expect_same_guest_output(native, virt, "tinyos:")


def icount_repeats_exactly():
    """Under -icount a run is deterministic: the same RESULT lines, cycles
    and instret included, twice in a row (natively and under hap)."""
    append = "workload=all " + "iters=10 size=4"
    for extra in (("--native",), ()):
        first = run_tinyos(append, "--icount", *extra)
        second = run_tinyos(append, "--icount", *extra)
        expect_passed(first, "icount run must pass")
        expect_passed(second, "icount run must pass")
        expect(len(first.lines("RESULT ")) == 6, first, "workload=all must print six RESULT lines")
        expect(first.lines("RESULT ") == second.lines("RESULT "), second,
               "icount runs differ: %s vs %s" % (first.lines("RESULT "), second.lines("RESULT ")))


def asid_recycling_keeps_checksums():
    """asids=0 (every process runs as ASID 0, a fence per switch) and
    asids=3 (ASIDs recycled from live processes) compute what the default
    does; under hap as natively."""
    append = "workload=all iters=8 procs=6 size=4"
    reference = run_tinyos(append, "--native")
    expect_passed(reference, "reference run must pass")
    for limit in ("asids=0", "asids=3"):
        virt = run_tinyos(append + " " + limit)
        expect_passed(virt, "tinyos with %s must pass" % limit)
        expect(results(virt) == results(reference), virt,
               "%s changed a checksum: %s vs %s" % (limit, results(virt), results(reference)))
        measures = [l for l in virt.lines("tinyos: measure ") if "workload=ctxsw" in l]
        recycles = int(re.search(r"asid_recycles=(\d+)", measures[0]).group(1)) if measures else 0
        expect(recycles > 0, virt, "%s never recycled an ASID" % limit)


def failed_check_gives_failure_status():
    run = run_tinyos("workload=no-such-workload")
    expect(run.rc == 1, run, "a failure must end with SRST reason 'system failure'")
    expect(any(l.startswith("tinyos: FAIL unknown workload") for l in run.lines("tinyos:")), run,
           "the reason line is missing")


TESTS = [("%s_native_matches_hap" % w, make_workload_test(w)) for w in SMALL] + [
    ("all_defaults_native_matches_hap", all_defaults_native_matches_hap),
    ("icount_repeats_exactly", icount_repeats_exactly),
    ("asid_recycling_keeps_checksums", asid_recycling_keeps_checksums),
    ("failed_check_gives_failure_status", failed_check_gives_failure_status),
]
