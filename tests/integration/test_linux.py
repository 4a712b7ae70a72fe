"""An unmodified Linux 6.1 kernel (make linux) under every mode: it boots
with our initramfs, its /init runs the workloads, and every RESULT line must
equal the native one, with one vCPU and with two.  With two, Linux really
uses both harts: the secondary is started through SBI HSM, IPIs flow, and in
the shadow modes some shadow changes have to reach the other hart."""
import os
import re
import tempfile

from common import REPO, csv_rows, expect, expect_same_guest_output, guest_image, umbra_run

IMAGE = os.path.join(REPO, "build", "linux", "Image")
INITRD = os.path.join(REPO, "build", "linux", "initramfs.cpio")
MEM = "256M"
BOOTARGS = "console=hvc0 earlycon=sbi"

# (label, runner options) for every configuration under test.
CONFIGS = [
    ("hap", ["--mode", "hap"]),
    ("tsp", ["--mode", "tsp"]),
    ("ssp", ["--mode", "ssp"]),
    ("ssp-sptbuf0", ["--mode", "ssp", "--sptbuf", "0"]),
]

_native = {}


def linux_run(workload, cpus, extra, stats=None):
    if not (os.path.exists(IMAGE) and os.path.exists(INITRD)):
        raise AssertionError("build/linux/Image or initramfs.cpio missing: run `make linux`")
    args = ["--kernel", IMAGE, "--initrd", INITRD, "--mem", MEM, "--cpus", str(cpus),
            "--append", "%s workload=%s" % (BOOTARGS, workload)] + extra
    if stats:
        args += ["--stats", stats]
    return umbra_run(*args, timeout=300)


def native(workload, cpus):
    key = (workload, cpus)
    if key not in _native:
        run = linux_run(workload, cpus, ["--native"])
        expect(run.rc == 0, run, "native Linux run failed")
        expect(len(run.lines("RESULT ")) > 0 and not run.lines("FAIL"), run, "native /init did not pass")
        _native[key] = run
    return _native[key]


def check_config(label, extra, workload, cpus):
    """One configuration against native; returns its CSV exit report."""
    ref = native(workload, cpus)
    with tempfile.TemporaryDirectory() as d:
        stats = os.path.join(d, "s.csv")
        run = linux_run(workload, cpus, extra, stats)
        expect(run.rc == 0, run, "Linux under %s with %d vCPUs failed" % (label, cpus))
        expect(not run.lines("FAIL"), run, "/init reported a failure under %s" % label)
        expect_same_guest_output(ref, run, "RESULT ")
        expect_same_guest_output(ref, run, "init:")
        return run, csv_rows(stats)[0]


def two_vcpus_every_mode_matches_native():
    """Every workload, 2 vCPUs, every configuration: the results equal native,
    the secondary hart was started and got IPIs, and (shadow modes) shared
    shadows needed remote flushes; ssp with a buffer takes fast satp writes."""
    summary = []
    for label, extra in CONFIGS:
        run, row = check_config(label, extra, "all", 2)
        expect(int(row["full_sbi_hsm"]) >= 1, run, "%s: Linux never started its second hart" % label)
        expect(int(row["full_ipi"]) > 0, run, "%s: no IPI reached a vCPU" % label)
        note = "%s exits=%s" % (label, row["exits_full"])
        if label != "hap":
            flushes = int(row["mm_remote_flushes"])
            expect(flushes > 0, run, "%s: no shadow change reached the other hart" % label)
            note += " remote_flushes=%d" % flushes
        if label == "ssp":
            expect(int(row["fast_satp_write_hit"]) > 0, run, "ssp: no satp write took the fast path")
            note += " fast=%s" % row["fast_satp_write_hit"]
        if label == "tsp":
            expect(int(row["full_wp_fault"]) > 0, run, "tsp: no write-protect fault")
        summary.append(note)
    return ", ".join(summary)


def one_vcpu_every_mode_matches_native():
    """The same kernel on a single vCPU (no secondary, no remote flushes)."""
    summary = []
    for label, extra in CONFIGS[:3]:
        run, row = check_config(label, extra, "all", 1)
        expect(int(row["mm_remote_flushes"]) == 0, run, "%s: remote flushes with one vCPU" % label)
        note = "%s exits=%s" % (label, row["exits_full"])
        if label == "ssp":
            # Linux fences pages with sfence.vma va, x0 while other processes'
            # shadows sit idle: they take those fences when switched to.
            deferred, replayed = int(row["mm_fences_deferred"]), int(row["mm_fences_replayed"])
            expect(deferred > 0 and replayed > 0, run,
                   "ssp: global one-page fences were not left for idle shadows (%d deferred, %d replayed)" %
                   (deferred, replayed))
            note += " fences_deferred=%d replayed=%d" % (deferred, replayed)
        summary.append(note)
    return ", ".join(summary)


def two_smp_vms_in_different_modes():
    """Two Linux VMs of 2 vCPUs each, one under tsp and one under ssp, on four
    harts at once: each VM's shootdowns reach only its own harts, and both
    compute their native results."""
    common = ["--kernel", IMAGE, "--initrd", INITRD, "--mem", MEM, "--cpus", "2"]
    run = umbra_run(*common, "--append", BOOTARGS + " workload=fork", "--mode", "tsp", "--name", "a",
                    "--vm", *common, "--append", BOOTARGS + " workload=mmap", "--mode", "ssp", "--name", "b",
                    timeout=300)
    expect(run.rc == 0, run, "two SMP Linux VMs failed")
    want = {"[a] " + l for l in native("fork", 2).lines("RESULT ")} | \
           {"[b] " + l for l in native("mmap", 2).lines("RESULT ")}
    got = {l for l in run.lines("[") if "RESULT " in l}
    expect(got == want, run, "results differ from native: %s" % sorted(got ^ want))
    return "; ".join(sorted(got))


TLB_ITERS = 100000
TLB_RESULT = re.compile(r"RESULT workload=(tlb2m|tlb) iters=(\d+) checksum=([0-9a-f]{16})")


def tinyos_tlb_checksum():
    """tinyos's tlb over the same 8,192 pages with the same updates."""
    run = umbra_run("--native", "--kernel", guest_image("tinyos"), "--mem", "128M",
                    "--append", "workload=tlb iters=%d size=8192" % TLB_ITERS, timeout=120)
    expect(run.rc == 0, run, "tinyos tlb failed")
    m = [TLB_RESULT.search(l) for l in run.lines("RESULT workload=tlb ")]
    expect(len(m) == 1 and m[0], run, "no tinyos tlb RESULT")
    return m[0].group(3)


def tlb_workloads_match_native_and_tinyos():
    """/init's tlb (32 MiB, 4 KiB pages) and tlb2m (16 hugetlb pages of
    2 MiB), one vCPU, under every mode: the results equal native, and the
    checksum equals tinyos's for the same loop (gups.h), on both page
    sizes."""
    want = tinyos_tlb_checksum()
    for workload in ("tlb", "tlb2m"):
        name = "%s iters=%d" % (workload, TLB_ITERS)
        ref = native(name, 1)
        got = [TLB_RESULT.search(l) for l in ref.lines("RESULT ")]
        expect(len(got) == 1 and got[0] and got[0].group(1) == workload, ref, "no %s RESULT" % workload)
        expect(got[0].group(3) == want, ref, "%s checksum %s differs from tinyos's %s" % (
            workload, got[0].group(3), want))
        for label, extra in CONFIGS[:3]:
            check_config(label, extra, name, 1)
    return "checksum %s natively, in hap, tsp and ssp, as tinyos's" % want


TESTS = [
    ("two_vcpus_every_mode_matches_native", two_vcpus_every_mode_matches_native),
    ("one_vcpu_every_mode_matches_native", one_vcpu_every_mode_matches_native),
    ("two_smp_vms_in_different_modes", two_smp_vms_in_different_modes),
    ("tlb_workloads_match_native_and_tinyos", tlb_workloads_match_native_and_tinyos),
]
