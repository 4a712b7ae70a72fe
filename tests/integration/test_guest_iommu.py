"""The devtest guest's own RISC-V IOMMU driver and DMA layer (issue 13,
item 3), natively on QEMU's IOMMU (-M virt,iommu-sys=on): edu and NVMe
give the same RESULT lines as without an IOMMU for every teardown policy,
both directory depths and both device-context formats; the guest's fault
queue records what its own tables block; the register and command fuzz is
survived; the map+unmap bench prints its figures.

umbra-run --native drops --iommu when the VM has devices (natively no one
would program the IOMMU), so these runs use a --qemu wrapper that turns it
on, and optionally moves the devices to low slots (a 1-level directory
covers device IDs below 64 or 128 only) or turns QEMU's MSI translation off
(so CAP.MSI_FLAT = 0 and contexts are the 32-byte base format)."""
import os
import re
import shutil
import sys
import tempfile

from common import expect, guest_image, umbra_run

DEVTEST = guest_image("devtest")
BLK_MIB = 4
POLICIES = ("strict", "deferred", "optimistic")
SUMMARY = re.compile(r"devtest: (\d+) passed, (\d+) failed$")
FREE_RAM = re.compile(r"free for attack targets \[0x([0-9a-f]+), 0x([0-9a-f]+)\)")
EDU_DID = 0x80      # umbra-run puts edu at 00:10.0
DISK_HALF = bytes(range(256)) * 7 * (BLK_MIB << 12) + b""
DISK_HALF = DISK_HALF[:BLK_MIB << 20]


class Scratch:
    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="umbra-giommu-")
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def disk(self, name):
        """A fresh 2 x BLK_MIB disk whose first half holds a fixed pattern."""
        path = self.path(name)
        with open(path, "wb") as f:
            f.write(DISK_HALF)
            f.write(bytes(BLK_MIB << 20))
        return path

    def qemu(self, iommu=True, base_dc=False, low_slots=False):
        """A --qemu wrapper: the IOMMU on, and the variations above."""
        name = "qemu-%d%d%d" % (iommu, base_dc, low_slots)
        path = self.path(name)
        with open(path, "w") as f:
            f.write("#!%s\nimport os, re, sys\nargs = sys.argv[1:]\n" % sys.executable)
            if iommu:
                f.write("args = [re.sub(r'^virt$', 'virt,iommu-sys=on', a) for a in args]\n")
            if low_slots:
                # edu,...,addr=0x10 -> 0x2 and nvme 0x11 -> 0x3: device IDs 0x10, 0x18.
                f.write("args = [re.sub(r',addr=0x1([0-9a-f])$', lambda m: ',addr=%#x' % "
                        "(2 + int(m.group(1), 16)), a) for a in args]\n")
            if base_dc:
                f.write("args += ['-global', 'riscv-iommu-device.intremap=off']\n")
            f.write("os.execvp('qemu-system-riscv64', ['qemu-system-riscv64'] + args)\n")
        os.chmod(path, 0o755)
        return path


def run_devtest(s, append, qemu=None, nvme=True, icount=False):
    args = ["--native", "--kernel", DEVTEST, "--mem", "64M", "--append", append, "--device", "edu"]
    if nvme:
        args += ["--device", "nvme,drive=" + s.disk("d%d.img" % len(os.listdir(s.dir)))]
    if qemu:
        args += ["--qemu", qemu]
    if icount:
        args.insert(0, "--icount")
    run = umbra_run(*args, timeout=120)
    expect(run.rc == 0, run, "devtest exited %d" % run.rc)
    return run


def passed_all(run):
    summary = [m for m in map(SUMMARY.search, run.lines("devtest: ")) if m]
    expect(summary and int(summary[-1].group(2)) == 0 and int(summary[-1].group(1)) > 0, run,
           "devtest did not pass all its checks")
    expect(not run.lines("devtest: FAIL"), run, "a FAIL line")


def results(run):
    passed_all(run)
    return run.lines("devtest: RESULT ")


def through_iommu(run, dc_bytes, levels):
    expect(any(("version 1.0 dc %d bytes" % dc_bytes) in l for l in run.lines("devtest: iommu at")), run,
           "the guest did not find a 1.0 IOMMU with %d-byte contexts" % dc_bytes)
    expect(run.lines("devtest: iommu: %d-level directory" % levels), run, "no %d-level directory" % levels)
    expect(not run.lines("devtest: iommu fault"), run, "faults in a clean run")


def same_results_with_every_policy_and_directory():
    """Without an IOMMU the guest's DMA is physical; with QEMU's, every
    buffer goes through an IOVA.  RESULT lines (edu round trip, NVMe read
    checksum and write/verify) are equal for strict, deferred and optimistic
    teardown with 1- and 2-level directories of 64-byte contexts, and for
    both depths with 32-byte (base-format) contexts."""
    with Scratch() as s:
        plain = run_devtest(s, "blk_mib=%d" % BLK_MIB)
        expect(plain.lines("devtest: no IOMMU in the DTB"), plain, "the plain run found an IOMMU")
        want = results(plain)
        expect(len(want) == 4, plain, "expected 4 RESULT lines (edu, nvme namespace, read, write)")
        runs = 0
        for levels in (1, 2):
            configs = [(p, False) for p in POLICIES] + [("strict", True)]
            for policy, base_dc in configs:
                qemu = s.qemu(base_dc=base_dc, low_slots=levels == 1)
                run = run_devtest(s, "blk_mib=%d dma_teardown=%s iommu_ddt=%d" % (BLK_MIB, policy, levels), qemu)
                through_iommu(run, 32 if base_dc else 64, levels)
                expect(run.lines("devtest: dma teardown %s" % policy), run, "policy not taken")
                got = results(run)
                expect(got == want, run, "%s, %d-level, %s contexts: RESULT lines differ:\n%s\nvs\n%s" % (
                    policy, levels, "base" if base_dc else "extended", got, want))
                runs += 1
    return "%d IOMMU configurations = no-IOMMU (%d RESULT lines)" % (runs, len(want))


def one_level_directory_refuses_high_device_ids():
    """edu at 00:10.0 is device ID 0x80: beyond a 1-level directory of
    64-byte contexts (IDs below 64), so the guest says so and fails its
    check instead of handing the device an address that cannot work."""
    with Scratch() as s:
        run = umbra_run("--native", "--qemu", s.qemu(), "--kernel", DEVTEST, "--mem", "64M",
                        "--append", "blk_mib=0 iommu_ddt=1", "--device", "edu", timeout=60)
        expect(run.lines("devtest: iommu: device id 0x80 lies beyond a 1-level directory"), run,
               "no line about the uncovered device id")
        expect(run.lines("devtest: FAIL edu has a DMA domain"), run, "no FAIL for the device")
        expect(run.lines("devtest: RESULT edu dma_round_trip FAIL"), run, "no FAIL RESULT")
    return "device id 0x80 refused by a 1-level directory"


def fault_records_of_the_guests_own_tables():
    """iommu_attack maps an IOVA to (a) a page of the guest's free RAM and
    (b) 4 GiB, which is no RAM: natively both DMAs are translated, (a)
    lands, and the guest's fault queue gets nothing.  attack= gives the
    device a raw physical address, which is an IOVA no one mapped: a write
    page fault (cause 15) at that address from the edu's device ID.
    iommu_badtable points the edu's context at a table root outside RAM: a
    write access fault (cause 7, the table load failed).  The device works
    after each."""
    with Scratch() as s:
        probe = run_devtest(s, "blk_mib=0", nvme=False)
        free_start, free_end = (int(x, 16) for x in FREE_RAM.search(probe.out).groups())
        own = (free_start + free_end) // 2 & ~0xfffff
        raw = own + 0x100000
        expect(free_start <= own and raw + 0x1000 <= free_end, probe, "free RAM too small")
        run = run_devtest(s, "blk_mib=0 iommu_attack=%x,100000000 attack=%x iommu_badtable=1" % (own, raw),
                          s.qemu(), nvme=False)
        passed_all(run)
        expect(run.lines("devtest: iommu attack %#x: landed yes, fault records 0" % own), run,
               "the mapped attack on own RAM did not land cleanly")
        expect(run.lines("devtest: iommu attack 0x100000000: landed unknown (not this guest's RAM), "
                         "fault records 0"), run, "the mapped attack beyond RAM gave fault records natively")
        faults = run.lines("devtest: iommu fault cause=")
        raw_fault = "devtest: iommu fault cause=15 (write page fault) did=%#x iotval=%#x ttyp=3" % (EDU_DID, raw)
        expect(raw_fault in faults, run, "no write page fault for the raw address")
        expect(run.lines("devtest: PASS edu attack %#x stopped by the guest's IOMMU" % raw), run, "raw attack")
        bad = [l for l in faults if l.startswith("devtest: iommu fault cause=7 (write access fault) did=%#x" % EDU_DID)]
        expect(len(bad) == 1, run, "expected one access fault from the bad table root, got %s" % bad)
        expect(run.lines("devtest: iommu badtable: root 0x2000000000, dma completed, fault records 1, "
                         "last cause 7 did %#x" % EDU_DID), run, "badtable summary")
        for label in ("after_attack", "after_iommu_attack", "after_badtable"):
            expect(run.lines("devtest: RESULT edu %s ok" % label), run, "edu broken %s" % label)
    return "raw DMA -> cause 15 at %#x; bad root -> cause 7; mapped attacks land" % raw


def fuzz_is_survived():
    """Seeded random register writes (sanitized so the native run stays
    defined) and command streams, malformed commands giving CMD_ILL, a full
    re-init and an edu round trip, under two policies and both formats."""
    cases = [("1", "strict", False), ("29", "optimistic", True), ("314", "deferred", False)]
    with Scratch() as s:
        for seed, policy, base_dc in cases:
            run = run_devtest(s, "blk_mib=0 dma_teardown=%s iommu_fuzz=%s" % (policy, seed),
                              s.qemu(base_dc=base_dc), nvme=False)
            passed_all(run)
            expect(run.lines("devtest: RESULT iommu fuzz ok"), run, "fuzz seed %s failed" % seed)
            expect(run.lines("devtest: PASS iommu fuzz: 6 malformed commands give CMD_ILL"), run, "CMD_ILL")
    return "%d seeds survived" % len(cases)


BENCH = re.compile(r"devtest: iommu bench (rotating )?maps=(\d+) teardown=(\w+) (?:buffers=(\d+) )?"
                   r"instret=(\d+) kept_hits=(\d+)$")


def bench_lines_per_policy():
    """iommu_bench=N prints the instret of N map+unmap pairs of one page and
    of N pairs over 32 buffers in turn, for each policy; a DMA through new
    mappings afterwards passes.  Optimistic reuses its kept mapping N-1
    times with one buffer; strict and deferred never do."""
    n = 200
    figures = []
    with Scratch() as s:
        for policy in POLICIES:
            run = run_devtest(s, "blk_mib=0 dma_teardown=%s iommu_bench=%d" % (policy, n), s.qemu(),
                              nvme=False, icount=True)
            passed_all(run)
            found = [m for m in map(BENCH.match, run.lines("devtest: iommu bench")) if m]
            expect(len(found) == 2, run, "expected two bench lines")
            one, rotating = found
            expect(int(one.group(2)) == n and one.group(3) == policy and rotating.group(4) == "32", run,
                   "bench line fields")
            hits = int(one.group(6))
            expect(hits == (n - 1 if policy == "optimistic" else 0), run, "kept hits %d" % hits)
            figures.append("%s %d/%d" % (policy, int(one.group(5)) // n, int(rotating.group(5)) // n))
    return "instret per pair (1 buffer/32): " + ", ".join(figures)


TESTS = [
    ("same_results_with_every_policy_and_directory", same_results_with_every_policy_and_directory),
    ("one_level_directory_refuses_high_device_ids", one_level_directory_refuses_high_device_ids),
    ("fault_records_of_the_guests_own_tables", fault_records_of_the_guests_own_tables),
    ("fuzz_is_survived", fuzz_is_survived),
    ("bench_lines_per_policy", bench_lines_per_policy),
]
