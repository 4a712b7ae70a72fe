"""The device tree a VM finds in its memory, compared node by node and
property by property with the one QEMU's bare `virt` machine of the same
size (-smp, -m, -append) gives (-machine dumpdtb).  The selftests guest's
test=dtb prints its tree in hex; tests/integration/fdt.py reads both.

Every difference must be one this file lists with its reason (and
docs/architecture.md's "The guest's device tree" explains); anything else,
a node or property missing, changed, or only in the VM's tree, fails.  The
same comparison runs natively, where the only differences are OpenSBI's own
edits of QEMU's tree."""
import os
import re
import subprocess
import tempfile

import fdt
from common import REPO, expect, guest_image, umbra_run

SELFTESTS = guest_image("selftests")
ARCH_DOC = os.path.join(REPO, "docs", "architecture.md")
APPEND = "test=dtb"
MEM_MIB = 128
QEMU = "qemu-system-riscv64"

# QEMU virt nodes a VM does not have, with why.
ABSENT_NODES = {
    r"/poweroff": "syscon power-off through the test device; VMs power off with SBI SRST",
    r"/reboot": "syscon reboot through the test device; VMs reboot with SBI SRST",
    r"/soc/test@100000": "the sifive,test device is not emulated (SRST instead)",
    r"/platform-bus@4000000": "QEMU's dynamic sysbus devices: none in a VM",
    r"/pmu": "no SBI PMU extension",
    r"/fw-cfg@10100000": "QEMU's firmware interface: Umbra loads the images itself",
    r"/flash@20000000": "no flash",
    r"/soc/rtc@101000": "the goldfish RTC is not emulated (the SBI timer and time CSR are)",
    r"/soc/virtio_mmio@1000[1-8]000": "no virtio devices",
    r"/soc/plic@c000000": "no external interrupts: the UART and PCI functions are polled",
    r"/soc/clint@2000000": "timer and IPIs through SBI and Sstc; the CLINT is M-mode's",
    r"/soc/pci@30000000": "only a VM with PCI functions assigned has a host bridge",
}
# QEMU virt properties a VM lacks or has with another value: why, and the
# VM's value (None: absent).
def _cells(*v):
    return b"".join(x.to_bytes(4, "big") for x in v)


CHANGED_PROPS = {
    ("/", "compatible"): ("the board is an Umbra VM (umbra,vm), not QEMU's riscv-virtio", b"umbra,vm\0"),
    ("/", "model"): ("the board is an Umbra VM, not QEMU's", b"Umbra virtual machine\0"),
    ("/chosen", "rng-seed"): ("Umbra has no entropy source to seed a guest with", None),
    ("/soc/serial@10000000", "interrupts"): ("no PLIC: the UART is polled", None),
    ("/soc/serial@10000000", "interrupt-parent"): ("no PLIC: the UART is polled", None),
    ("/soc/pci@30000000", "#interrupt-cells"): ("no PLIC: functions are polled (no INTx)", None),
    ("/soc/pci@30000000", "interrupt-map"): ("no PLIC: functions are polled (no INTx)", None),
    ("/soc/pci@30000000", "interrupt-map-mask"): ("no PLIC: functions are polled (no INTx)", None),
    ("/soc/pci@30000000", "bus-range"): ("bus 0 only", _cells(0, 0)),
    ("/soc/pci@30000000", "reg"): ("ECAM of bus 0 only (1 MiB)", _cells(0, 0x30000000, 0, 0x100000)),
    ("/soc/pci@30000000", "ranges"): ("one 32-bit memory window, PCI addresses = guest-physical",
                                      _cells(0x02000000, 0, 0x40000000, 0, 0x40000000, 0, 0x40000000)),
}
# OpenSBI's edits of QEMU's tree before it starts a native kernel.
OPENSBI_EDITS = {
    r"/reserved-memory(/.*)?": "OpenSBI reserves its own memory",
    r"/chosen rng-seed": "QEMU draws a new seed on every start",
    r"/pmu riscv,event-to-mhpmcounters": "OpenSBI removes the PMU map it has read",
    r"/soc/plic@c000000 interrupts-extended": "OpenSBI hides the M-mode context of each hart",
}


def isa_hidden(ext):
    """What a VS-mode guest does not get: H, hypervisor (sh*) and machine
    (sm*) extensions, and counter overflow (needs the SBI PMU)."""
    return ext == "h" or ext.startswith(("sh", "sm")) or ext == "sscofpmf"


def guest_isa(isa):
    base, *multi = isa.split("_")
    base = base[:4] + "".join(c for c in base[4:] if c != "h")
    return "_".join([base] + [m for m in multi if not isa_hidden(m)])


def cpu_prop_expected(name, qemu_value, mode):
    """The value a VM's cpu node must have where QEMU's is qemu_value."""
    if name == "riscv,isa":
        return (guest_isa(qemu_value.rstrip(b"\0").decode()) + "\0").encode()
    if name == "riscv,isa-extensions":
        return b"".join(e.encode() + b"\0" for e in fdt.strings(qemu_value) if not isa_hidden(e))
    if name == "mmu-type" and mode in ("tsp", "ssp"):
        return b"riscv,sv39\0"      # the shadow modes build Sv39 shadows
    return qemu_value


def qemu_tree(cpus, mem_mib=MEM_MIB):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "virt.dtb")
        subprocess.run([QEMU, "-M", "virt,dumpdtb=" + out, "-cpu", "rv64", "-smp", str(cpus),
                        "-m", "%dM" % mem_mib, "-nographic", "-kernel", SELFTESTS, "-append", APPEND],
                       check=True, capture_output=True, timeout=60)
        with open(out, "rb") as f:
            return fdt.parse(f.read())


def run_tree(run):
    """The tree the guest printed (its "dtb OFFSET HEX" lines, in order)."""
    blob = bytearray()
    for line in run.lines("selftests: dtb "):
        m = re.fullmatch(r"selftests: dtb ([0-9a-f]{6}) ([0-9a-f]+)", line)
        if m:
            expect(int(m.group(1), 16) == len(blob), run, "a dtb line is missing or out of order")
            blob += bytes.fromhex(m.group(2))
    size = run.lines("selftests: dtb size ")
    expect(size and len(blob) == int(size[0].split()[-1]), run, "the guest's DTB dump is incomplete")
    return fdt.parse(bytes(blob))


def tree_differences(vm, qemu, mode):
    """Differences between the VM's tree and QEMU's that are not listed."""
    found = []
    for path in qemu:
        if path not in vm:
            if not any(re.fullmatch(p, path) for p in ABSENT_NODES):
                found.append("missing node %s" % path)
            continue
        for name, value in qemu[path].items():
            want = value
            if re.fullmatch(r"/cpus/cpu@\d+", path):
                want = cpu_prop_expected(name, value, mode)
            if (path, name) in CHANGED_PROPS:
                want = CHANGED_PROPS[(path, name)][1]
                if vm[path].get(name) != want:
                    found.append("%s %s: %s, the documented difference says %s" % (
                        path, name, fdt.show(vm[path][name]) if name in vm[path] else "missing",
                        "absent" if want is None else fdt.show(want)))
                continue
            if vm[path].get(name) != want:
                found.append("%s %s: %s, QEMU virt gives %s (expected %s)" % (
                    path, name, fdt.show(vm[path][name]) if name in vm[path] else "missing",
                    fdt.show(value), fdt.show(want)))
    for path, props in vm.items():
        if path not in qemu:
            found.append("node %s is not in QEMU virt's tree" % path)
            continue
        found += ["%s %s is not in QEMU virt's tree" % (path, n) for n in props if n not in qemu[path]]
    return found


def dtb_run(*extra, cpus=2):
    run = umbra_run("--kernel", SELFTESTS, "--mem", "%dM" % MEM_MIB, "--cpus", str(cpus),
                    "--append", APPEND, *extra, timeout=60)
    expect(run.rc == 0 and run.lines("selftests: dtb 1 passed, 0 failed"), run, "test=dtb failed")
    return run


def vm_tree_matches_qemu_virt_in_every_mode():
    qemu = qemu_tree(2)
    seen = []
    for mode, extra in (("hap", ()), ("hap", ("--device", "edu")), ("tsp", ("--device", "edu")),
                        ("ssp", ())):
        run = dtb_run("--mode", mode, *extra)
        vm = run_tree(run)
        diffs = tree_differences(vm, qemu, mode)
        expect(not diffs, run, "under %s the VM's tree differs from QEMU virt's:\n  %s" % (
            mode, "\n  ".join(diffs)))
        expect(("/soc/pci@30000000" in vm) == bool(extra), run, "the host bridge is wrong under " + mode)
        seen.append("%s%s %d nodes" % (mode, "+edu" if extra else "", len(vm)))
    return "QEMU virt %d nodes; %s" % (len(qemu), ", ".join(seen))


def comparison_catches_a_wrong_tree():
    """The comparison is not blind: a VM of 128 MiB against QEMU's tree of
    256 MiB differs in exactly the memory node's reg."""
    vm = run_tree(dtb_run("--mode", "hap", cpus=1))
    diffs = tree_differences(vm, qemu_tree(1, mem_mib=2 * MEM_MIB), "hap")
    if len(diffs) != 1 or not diffs[0].startswith("/memory@80000000 reg:"):
        raise AssertionError("expected one memory reg difference, got %s" % diffs)
    vm["/cpus/cpu@0"].pop("riscv,isa-base")
    vm["/soc"]["extra"] = b""
    diffs = tree_differences(vm, qemu_tree(1), "hap")
    if sorted(d.split()[0] + " " + d.split()[1] for d in diffs) != ["/cpus/cpu@0 riscv,isa-base:",
                                                                     "/soc extra"]:
        raise AssertionError("a dropped and an added property were not both reported: %s" % diffs)
    return "a planted memory size, a dropped and an added property are all reported"


def native_tree_is_qemus_with_opensbi_edits():
    qemu = qemu_tree(2)
    run = dtb_run("--native")
    native = run_tree(run)
    diffs = []
    for path in sorted(set(native) | set(qemu)):
        if path not in native or path not in qemu:
            diffs.append(path)
            continue
        diffs += ["%s %s" % (path, n) for n in set(native[path]) | set(qemu[path])
                  if native[path].get(n) != qemu[path].get(n)]
    unlisted = [d for d in diffs if not any(re.fullmatch(p, d) for p in OPENSBI_EDITS)]
    expect(not unlisted, run, "natively the tree differs from dumpdtb beyond OpenSBI's edits: %s" % unlisted)
    return "%d differences, all OpenSBI's" % len(diffs)


def every_difference_is_documented():
    """Each absent node has a row of the section's first table naming it,
    and each changed property a row naming its node and itself."""
    with open(ARCH_DOC) as f:
        doc = f.read()
    section = doc.split("### The guest's device tree", 1)
    if len(section) < 2:
        raise AssertionError("docs/architecture.md has no section \"The guest's device tree\"")
    rows = [l for l in section[1].split("\n### ")[0].split("\n") if l.startswith("| `")]
    missing = ["node " + n for n in ABSENT_NODES if not any("`%s`" % n in r for r in rows)]
    missing += ["%s %s" % key for key in CHANGED_PROPS
                if not any("`%s`" % key[0] in r and "`%s`" % key[1] in r for r in rows)]
    if missing:
        raise AssertionError("not explained in docs/architecture.md: %s" % missing)
    return "%d nodes and %d properties explained" % (len(ABSENT_NODES), len(CHANGED_PROPS))


TESTS = [
    ("vm_tree_matches_qemu_virt_in_every_mode", vm_tree_matches_qemu_virt_in_every_mode),
    ("comparison_catches_a_wrong_tree", comparison_catches_a_wrong_tree),
    ("native_tree_is_qemus_with_opensbi_edits", native_tree_is_qemus_with_opensbi_edits),
    ("every_difference_is_documented", every_difference_is_documented),
]
