"""PCI passthrough (issue 6): the devtest guest drives QEMU's edu (DMA both
ways) and an NVMe disk (16 MiB read against the image file, 16 MiB written
and read back, then checked in the file) with a driver written for bare
QEMU.  Natively and under hap, tsp and ssp (three VMs at once, each with
its own devices) the results are identical; DMA aimed outside a VM's RAM is
blocked and counted for that VM while every canary survives; garbage config
writes never hurt Umbra."""
import os
import random
import re
import shutil
import struct
import sys
import tempfile

from common import csv_rows, expect, guest_image, umbra_run

DEVTEST = guest_image("devtest")
SELFTESTS = guest_image("selftests")
BLK_MIB = 16
DISK_BYTES = 2 * BLK_MIB << 20
MODES = ("hap", "tsp", "ssp")
FNV_BASIS, FNV_PRIME, MASK = 0xcbf29ce484222325, 0x100000001b3, (1 << 64) - 1


def word_sum(data):
    """The guest's checksum: FNV-1a style over little-endian 64-bit words."""
    h = FNV_BASIS
    for (w,) in struct.iter_unpack("<Q", data):
        h = ((h ^ w) * FNV_PRIME) & MASK
    return h


def pattern(offset, length):
    """What the guest writes at disk byte `offset` (see guests/devtest)."""
    return b"".join(struct.pack("<Q", ((o * 0x9e3779b97f4a7c15) & MASK) ^ 0x5eed5eed5eed5eed)
                    for o in range(offset, offset + length, 8))


_disk_seed_bytes = None


def seeded_disk(path):
    """A disk image whose first half is seeded random data, the second zeros."""
    global _disk_seed_bytes
    if _disk_seed_bytes is None:
        _disk_seed_bytes = random.Random(6).randbytes(BLK_MIB << 20)
    with open(path, "wb") as f:
        f.write(_disk_seed_bytes)
        f.write(bytes(DISK_BYTES - len(_disk_seed_bytes)))


def check_disk_after(path, run):
    with open(path, "rb") as f:
        data = f.read()
    expect(data[:BLK_MIB << 20] == _disk_seed_bytes, run, "the read half of %s changed" % path)
    want = pattern(BLK_MIB << 20, BLK_MIB << 20)
    expect(data[BLK_MIB << 20:] == want, run, "the written half of %s is not the guest's pattern" % path)


def results(run, prefix=""):
    """The guest's RESULT lines (without a multi-VM "[name] " prefix), after
    checking its summary: natively OpenSBI exits 0 whatever the guest says,
    so the summary line is what tells."""
    summary = run.lines(prefix + "devtest: ")
    summary = [l for l in summary if re.search(r"devtest: \d+ passed, \d+ failed$", l)]
    expect(summary and summary[-1].endswith(" 0 failed") and not summary[-1].endswith(" 0 passed, 0 failed"),
           run, "devtest %sdid not pass all its checks" % prefix)
    return [l[len(prefix):] for l in run.lines(prefix + "devtest: RESULT ")]


def stats_by_vm(path):
    return {row["vm"]: row for row in csv_rows(path)}


class Scratch:
    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="umbra-pt-")
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)


_native = {}


def native_results():
    if "r" not in _native:
        with Scratch() as s:
            seeded_disk(s.path("n.img"))
            run = umbra_run("--native", "--kernel", DEVTEST, "--mem", "64M", "--append", "blk_mib=%d" % BLK_MIB,
                            "--device", "edu", "--device", "nvme,drive=" + s.path("n.img"), timeout=240)
            expect(run.rc == 0, run, "native devtest failed")
            check_disk_after(s.path("n.img"), run)
            _native["r"] = (run, results(run))
    return _native["r"]


def every_mode_matches_native_three_vms_at_once():
    """hap, tsp and ssp VMs side by side, each with its own edu and NVMe disk:
    every RESULT equals native, the read checksum equals the image file's,
    each disk holds the pattern its VM wrote, each VM's BARs were mapped and
    its config space emulated, and no IOMMU fault was recorded."""
    native, want = native_results()
    read_line = "devtest: RESULT nvme read mib=%d sum=0x%016x" % (BLK_MIB, word_sum(_disk_seed_bytes))
    expect(read_line in want, native, "native read checksum is not the image file's (%s)" % read_line)
    expect(any(l.startswith("devtest: RESULT edu dma_round_trip ok") for l in want), native, "no native edu result")
    with Scratch() as s:
        args = []
        for i, mode in enumerate(MODES):
            seeded_disk(s.path(mode + ".img"))
            args += (["--vm"] if i else []) + [
                "--name", mode, "--mode", mode, "--kernel", DEVTEST, "--mem", "64M",
                "--append", "blk_mib=%d" % BLK_MIB, "--device", "edu", "--device", "nvme,drive=" + s.path(mode + ".img")]
        run = umbra_run(*args, "--stats", s.path("s.csv"), timeout=400)
        expect(run.rc == 0, run, "devtest failed under Umbra")
        stats = stats_by_vm(s.path("s.csv"))
        for mode in MODES:
            got = results(run, "[%s] " % mode)
            expect(got == want, run, "%s results differ from native:\n%s\nvs\n%s" % (mode, got, want))
            check_disk_after(s.path(mode + ".img"), run)
            row = stats[mode]
            expect(int(row["mm_iommu_faults"]) == 0, run, "%s: IOMMU faults in a clean run" % mode)
            expect(int(row["mm_bar_maps"]) >= 2, run, "%s: BARs were never mapped" % mode)
            expect(int(row["full_mmio"]) > 0, run, "%s: no config access was emulated" % mode)
            # Per device: IODIR.INVAL_DDT and IOTINVAL.GVMA, each with its IOFENCE.C.
            expect(int(row["mm_iommu_commands"]) == 8, run, "%s: IOMMU commands per VM start" % mode)
        gscids = set(re.findall(r"GSCID (\d+)", "\n".join(run.lines("umbra: vm "))))
        expect(len(gscids) == 3, run, "three DMA tables need three GSCIDs, got %s" % gscids)
    return "3 VMs = native (%d RESULT lines), disks verified" % len(want)


IOMMU_DIR = re.compile(r"directory at host 0x([0-9a-f]+)")
DMA_TABLE = re.compile(r"umbra: vm (\w+): DMA confined to its RAM: IOMMU second stage at host 0x([0-9a-f]+)")
VM_RAM = re.compile(r"umbra: vm (\w+): mode \w+, (\d+) MiB RAM at host 0x([0-9a-f]+)")
FAULT = re.compile(r"umbra: vm attacker: iommu fault from pci 00:10\.0: (.*) at guest 0x([0-9a-f]+) \(blocked\)")


def attack_run(attack, stats=None):
    extra = ["--stats", stats] if stats else []
    return umbra_run("--name", "attacker", "--kernel", DEVTEST, "--mem", "32M", "--device", "edu",
                     "--append", "blk_mib=0" + (" attack=" + attack if attack else ""),
                     "--vm", "--name", "victim", "--mode", "ssp", "--kernel", SELFTESTS, "--mem", "64M",
                     "--append", "test=canary seed=77", *extra, timeout=240)


def malicious_dma_blocked_and_counted():
    """The attacker's edu writes 4 KiB at (1) the host address of Umbra's
    IOMMU directory, (2) the host address of its own DMA table, (3) the
    victim VM's RAM, (4) an unmapped GPA.  (1) lies inside the attacker's
    guest-physical RAM, so the IOMMU sends it to the attacker's own page;
    (2)-(4) lie outside, so the IOMMU blocks them and Umbra counts three
    faults for the attacker.  The victim's canary pattern survives, the
    device still works afterwards (so Umbra's tables do too)."""
    probe = attack_run("")
    expect(probe.rc == 0, probe, "the attack-free run failed")
    text = probe.out
    directory = int(IOMMU_DIR.search(text).group(1), 16)
    tables = {m.group(1): int(m.group(2), 16) for m in DMA_TABLE.finditer(text)}
    rams = {m.group(1): int(m.group(3), 16) for m in VM_RAM.finditer(text)}
    guest_end = 0x80000000 + (32 << 20)
    expect(0x80000000 <= directory < guest_end, probe, "Umbra's directory is not below 0x82000000 (layout changed?)")
    expect(tables["attacker"] >= guest_end and rams["victim"] >= guest_end, probe,
           "attack targets are not outside the attacker's RAM (layout changed?)")
    targets = [directory, tables["attacker"], rams["victim"] + (8 << 20), 0x100000000]
    with Scratch() as s:
        run = attack_run(",".join("%#x" % t for t in targets), s.path("s.csv"))
        expect(run.rc == 0, run, "a VM failed during the attack")
        expect(run.lines("[attacker] devtest: attack %#x landed in own RAM" % directory), run,
               "the DMA to the directory's host address did not land in the attacker's own RAM")
        faults = [(m.group(1), int(m.group(2), 16)) for m in map(FAULT.match, run.lines("umbra: vm attacker: iommu"))
                  if m]
        # QEMU's model faults each 4-byte piece of a blocked DMA; the log
        # names every page once.
        pages = sorted({a & ~0xfff for _, a in faults})
        expect(pages == sorted(targets[1:]), run, "pages faulted: %s" % [hex(p) for p in pages])
        expect(all("write" in cause for cause, _ in faults), run, "faults should be write faults")
        stats = stats_by_vm(s.path("s.csv"))
        expect(int(stats["attacker"]["mm_iommu_faults"]) >= 3, run, "attacker's fault count")
        expect(not run.lines("umbra: iommu fault queue overflowed"), run, "fault records were lost")
        expect(int(stats["victim"]["mm_iommu_faults"]) == 0, run, "faults charged to the victim")
        expect(run.lines("[attacker] devtest: RESULT edu after_attack ok"), run, "the device stopped working")
        canary = run.lines("[victim] selftests: canary")
        expect(canary and "intact=yes" in canary[-1], run, "the victim's canary pattern did not survive")
    return "%s fault records, pages %s blocked; directory DMA landed in own RAM" % (
        stats["attacker"]["mm_iommu_faults"], ", ".join("%#x" % t for t in targets[1:]))


def garbage_config_writes_survive():
    """2000 random config-space writes per function (BARs, command, ROM, caps,
    absent slots) then a fresh driver init: the edu test still passes, in
    every mode, exactly as natively."""
    native = umbra_run("--native", "--kernel", DEVTEST, "--mem", "64M", "--append", "blk_mib=0 garbage=5",
                       "--device", "edu", timeout=120)
    expect(native.rc == 0, native, "native garbage run failed")
    want = results(native)
    args = []
    for i, mode in enumerate(MODES):
        args += (["--vm"] if i else []) + ["--name", mode, "--mode", mode, "--kernel", DEVTEST, "--mem", "64M",
                                           "--append", "blk_mib=0 garbage=5", "--device", "edu"]
    run = umbra_run(*args, timeout=240)
    expect(run.rc == 0, run, "garbage writes broke a VM")
    for mode in MODES:
        expect(results(run, "[%s] " % mode) == want, run, "%s differs from native" % mode)
    return "%d RESULT lines equal in every mode" % len(want)


def bad_device_options_are_refused():
    with Scratch() as s:
        cases = [
            (["--device", "nvme,drive=" + s.path("missing.img")], "cannot open disk image"),
            (["--device", "edu,addr=3"], "addr= is chosen by umbra-run"),
            (["--device", "edu,oops"], "is not key=value"),
            (["--device", "edu"] * 5, "at most 4"),
        ]
        for extra, message in cases:
            run = umbra_run("--kernel", DEVTEST, "--mem", "64M", *extra)
            expect(run.rc == 2 and message in run.err, run, "expected a usage error about %r" % message)
    return "%d bad --device options refused" % len(cases)


def write_qemu_wrapper(path, pattern, replacement):
    """A --qemu stand-in that rewrites QEMU's arguments (whole-argument
    regex): the machine Umbra then boots on lacks what its configuration
    promises."""
    with open(path, "w") as f:
        f.write("#!%s\nimport os, re, sys\n"
                "args = [re.sub(%r, %r, a) for a in sys.argv[1:]]\n"
                "os.execvp('qemu-system-riscv64', ['qemu-system-riscv64'] + args)\n"
                % (sys.executable, pattern, replacement))
    os.chmod(path, 0o755)


def umbra_refuses_what_the_machine_lacks():
    """Umbra checks its configuration against the machine: a pci= function
    that is not on the bus, or a device with no IOMMU to confine it, stops the
    boot with a message naming the VM and the function (exit 4)."""
    with Scratch() as s:
        cases = [
            (r"^(edu,.*)addr=0x10$", r"\1addr=0x12",
             "vm vm0: pci=00:10.0: no such function on the host's PCI bus 0"),
            (r"^virt,iommu-sys=on$", "virt", "vm vm0: pci=00:10.0: no IOMMU to confine its DMA"),
        ]
        for i, (pattern, replacement, message) in enumerate(cases):
            wrapper = s.path("qemu%d" % i)
            write_qemu_wrapper(wrapper, pattern, replacement)
            run = umbra_run("--qemu", wrapper, "--kernel", DEVTEST, "--mem", "64M", "--device", "edu")
            expect(run.rc == 4 and any(message in l for l in run.lines("umbra:")), run,
                   "expected Umbra to refuse with %r" % message)
    return "%d machines refused" % len(cases)


TESTS = [
    ("every_mode_matches_native_three_vms_at_once", every_mode_matches_native_three_vms_at_once),
    ("malicious_dma_blocked_and_counted", malicious_dma_blocked_and_counted),
    ("garbage_config_writes_survive", garbage_config_writes_survive),
    ("bad_device_options_are_refused", bad_device_options_are_refused),
    ("umbra_refuses_what_the_machine_lacks", umbra_refuses_what_the_machine_lacks),
]
