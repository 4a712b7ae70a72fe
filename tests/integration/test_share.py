"""One edu shared by several VMs (iommu/share/): mediated pass-through with
Demon's owner switching (--share-mode switch) and with address rewriting
(--share-mode rewrite).

Every sharer runs devtest's edu test plus edu_loops rounds (a full page in,
a piece in at a moving offset, the buffer out, checked) on data seeded by a
seed of its own, so a buffer mixed up between VMs would show; each must
print what a one-VM native run prints.  Attacks through the shared device
never land outside the attacker's RAM, a misbehaving sharer does not keep
the device from the others, and bad options are refused.  The tests assert
relations (switches happen, each costs 2 IOMMU commands, nothing refused
for honest VMs), not counts that depend on timing."""
import re

from common import csv_rows, expect, guest_image, umbra_run
from test_passthrough import Scratch

DEVTEST = guest_image("devtest")
SELFTESTS = guest_image("selftests")
LOOPS = 2
SHARE_MODES = ("switch", "rewrite")
CPU_MODES = ("hap", "ssp", "tsp")
VM_RAM = re.compile(r"umbra: vm (\w+): mode \w+, (\d+) MiB RAM at host 0x([0-9a-f]+)")
DMA_TABLE = re.compile(r"umbra: vm (\w+): DMA confined to its RAM: IOMMU second stage at host 0x([0-9a-f]+)")
FAULT = re.compile(r"umbra: vm attacker: iommu fault from pci 00:10\.0: .* at guest 0x([0-9a-f]+) \(blocked\)")

_native = {}


def append(seed, extra=""):
    return ("blk_mib=0 edu_loops=%d edu_seed=%d %s" % (LOOPS, seed, extra)).strip()


def native_results():
    """The RESULT lines of one devtest alone on bare QEMU with an edu."""
    if "lines" not in _native:
        run = umbra_run("--native", "--kernel", DEVTEST, "--mem", "64M", "--device", "edu",
                        "--append", append(1), timeout=120)
        expect(run.rc == 0, run, "native devtest failed")
        _native["lines"] = sorted(run.lines("devtest: RESULT"))
        expect(len(_native["lines"]) == 2, run, "native RESULT lines: %s" % _native["lines"])
    return _native["lines"]


def sharers(n, mem="32M", extra=lambda i: ""):
    """Runner options for n devtest VMs sharing one edu, in turn hap, ssp, tsp."""
    args = []
    for i in range(n):
        args += ([] if i == 0 else ["--vm"]) + [
            "--name", "v%d" % i, "--mode", CPU_MODES[i % 3], "--kernel", DEVTEST, "--mem", mem,
            "--device", "edu,shared=e", "--append", append(i + 1, extra(i))]
    return args


def results(run, name):
    prefix = "[%s] devtest: RESULT" % name
    return sorted(l[len("[%s] " % name):] for l in run.lines(prefix))


def check_sharers(run, names, stats, mode):
    """Every sharer printed native's results; switches cost 2 commands each
    under switch and none under rewrite; nothing honest was refused."""
    want = native_results()
    rows = {r["vm"]: r for r in csv_rows(stats)}
    switches = 0
    for name in names:
        expect(results(run, name) == want, run, "%s differs from native: %s" % (name, results(run, name)))
        r = rows[name]
        expect(int(r["mm_share_transfers"]) >= 3 + 3 * LOOPS, run, "%s: transfers %s" % (name, r["mm_share_transfers"]))
        expect(int(r["mm_share_refused"]) == 0, run, "%s: refused %s" % (name, r["mm_share_refused"]))
        expect(int(r["mm_iommu_faults"]) == 0, run, "%s: IOMMU faults" % name)
        expect(int(r["full_share_mmio"]) > 0, run, "%s: no share_mmio exits" % name)
        commands = 2 * int(r["mm_share_switches"]) if mode == "switch" else 0
        expect(int(r["mm_share_switch_commands"]) == commands, run, "%s: %s switch commands for %s switches" % (
            name, r["mm_share_switch_commands"], r["mm_share_switches"]))
        switches += int(r["mm_share_switches"])
    expect(switches >= len(names) - 1, run, "only %d owner switches" % switches)
    return switches


def three_vms_share_one_edu_in_both_modes():
    """hap, ssp and tsp VMs share one edu; each prints native's results, in
    both share modes."""
    figures = []
    with Scratch() as s:
        for mode in SHARE_MODES:
            stats = s.path("%s.csv" % mode)
            run = umbra_run("--share-mode", mode, *sharers(3), "--stats", stats, timeout=240)
            expect(run.rc == 0, run, "%s: a sharer failed" % mode)
            expect(run.lines("umbra: pci 00:10.0 shared by 3 VM(s), share_mode %s" % mode), run, "share line")
            figures.append("%s: %d switches" % (mode, check_sharers(run, ["v0", "v1", "v2"], stats, mode)))
    return ", ".join(figures)


def eight_vms_share_one_edu():
    """Eight VMs (one vCPU each) share one edu; every result equals a
    one-VM native run, in both share modes."""
    figures = []
    names = ["v%d" % i for i in range(8)]
    with Scratch() as s:
        for mode in SHARE_MODES:
            stats = s.path("%s.csv" % mode)
            run = umbra_run("--share-mode", mode, *sharers(8), "--stats", stats, timeout=400)
            expect(run.rc == 0, run, "%s: a sharer failed" % mode)
            figures.append("%s: %d switches" % (mode, check_sharers(run, names, stats, mode)))
    return "8 VMs = native (%s)" % ", ".join(figures)


def attack_run(mode, attack, stats):
    """attacker and honest share the edu; victim (not sharing) keeps a canary."""
    return umbra_run("--share-mode", mode,
                     "--name", "attacker", "--kernel", DEVTEST, "--mem", "32M", "--device", "edu,shared=e",
                     "--append", append(7, "attack=" + attack if attack else ""),
                     "--vm", "--name", "honest", "--mode", "ssp", "--kernel", DEVTEST, "--mem", "32M",
                     "--device", "edu,shared=e", "--append", append(8),
                     "--vm", "--name", "victim", "--mode", "tsp", "--kernel", SELFTESTS, "--mem", "64M",
                     "--append", "test=canary seed=77", "--stats", stats, timeout=240)


def attacks_through_the_shared_device_blocked():
    """The attacker aims the shared edu at its honest co-sharer's RAM, a
    third VM's RAM, Umbra's memory (where the honest VM's DMA table is in a
    switch run) and 4 GiB.
    Under switch the IOMMU, pointed at the attacker's table while it owns
    the device, blocks each (faults counted for the attacker); under rewrite
    Umbra refuses each address.  The honest sharer's results, the victim's
    canary and the device survive."""
    figures = []
    with Scratch() as s:
        probe = attack_run("switch", "", s.path("p.csv"))
        expect(probe.rc == 0, probe, "the attack-free run failed")
        rams = {m.group(1): int(m.group(3), 16) for m in VM_RAM.finditer(probe.out)}
        tables = {m.group(1): int(m.group(2), 16) for m in DMA_TABLE.finditer(probe.out)}
        targets = [rams["honest"] + (8 << 20), rams["victim"] + (8 << 20), tables["honest"], 0x100000000]
        guest_end = 0x80000000 + (32 << 20)
        expect(all(t >= guest_end for t in targets), probe, "targets inside the attacker's RAM (layout?)")
        for mode in SHARE_MODES:
            stats = s.path("%s.csv" % mode)
            run = attack_run(mode, ",".join("%#x" % t for t in targets), stats)
            expect(run.rc == 0, run, "%s: a VM failed during the attack" % mode)
            for t in targets:
                expect(run.lines("[attacker] devtest: attack dma to %#x completed" % t), run,
                       "%s: the attack on %#x did not run" % (mode, t))
            expect(results(run, "honest") == native_results(), run, "%s: the honest sharer broke" % mode)
            expect(run.lines("[attacker] devtest: RESULT edu after_attack ok"), run, "%s: device broken" % mode)
            canary = run.lines("[victim] selftests: canary")
            expect(canary and "intact=yes" in canary[-1], run, "%s: the victim's canary did not survive" % mode)
            rows = {r["vm"]: r for r in csv_rows(stats)}
            a, h = rows["attacker"], rows["honest"]
            if mode == "switch":
                # Each blocked page named once in the log, no record lost.
                pages = sorted({int(m.group(1), 16) & ~0xfff for m in map(FAULT.match, run.lines("umbra: vm attacker:"))
                                if m})
                expect(pages == sorted(targets), run, "switch: pages faulted: %s" % [hex(p) for p in pages])
                expect(not run.lines("umbra: iommu fault queue overflowed"), run, "fault records were lost")
                expect(int(a["mm_iommu_faults"]) >= len(targets), run, "switch: attacker faults %s" % a["mm_iommu_faults"])
                blocked = a["mm_iommu_faults"] + " faults"
            else:
                expect(int(a["mm_share_refused"]) == len(targets), run, "rewrite: refused %s" % a["mm_share_refused"])
                expect(int(a["mm_iommu_faults"]) == 0, run, "rewrite: a DMA reached the IOMMU")
                blocked = a["mm_share_refused"] + " refused"
            for r in (h, rows["victim"]):
                expect(int(r["mm_iommu_faults"]) == 0 and int(r["mm_share_refused"]) == 0, run,
                       "%s: faults or refusals charged to %s" % (mode, r["vm"]))
            figures.append("%s: %s" % (mode, blocked))
    return "blocked (%s), canary intact, honest sharer = native" % ", ".join(figures)


def misbehaving_sharer_does_not_block_the_others():
    """Two sharers write garbage to the registers (DMA commands with random
    operands included) and end without waiting for anything, a request of
    theirs maybe still waiting or running.  The other two sharers print
    native's results."""
    figures = []
    with Scratch() as s:
        for mode in SHARE_MODES:
            stats = s.path("%s.csv" % mode)
            extra = {0: "edu_garbage=5", 1: "edu_garbage=6"}
            run = umbra_run("--share-mode", mode, *sharers(4, extra=lambda i: extra.get(i, "")),
                            "--stats", stats, timeout=240)
            expect(run.rc == 0, run, "%s: a VM failed" % mode)
            for name in ("v0", "v1"):
                expect(run.lines("[%s] devtest: edu garbage: 64 random register writes and a request" % name), run,
                       "no garbage")
            rows = {r["vm"]: r for r in csv_rows(stats)}
            refused = sum(int(rows[n]["mm_share_refused"]) for n in ("v0", "v1"))
            expect(refused > 0, run, "%s: no garbage request was refused" % mode)
            for name in ("v2", "v3"):
                expect(results(run, name) == native_results(), run, "%s: %s differs from native" % (mode, name))
                expect(int(rows[name]["mm_iommu_faults"]) == 0, run, "%s: faults charged to %s" % (mode, name))
            figures.append("%s: %d garbage requests refused" % (mode, refused))
    return ", ".join(figures)


def bad_share_options_refused():
    """Sharing mistakes are named before QEMU starts (exit 2)."""
    cases = [
        (["--device", "nvme,shared=e,drive=/dev/null"], "only edu can be shared"),
        (["--device", "edu,shared=a b"], "shared= wants a name"),
        (["--device", "edu,shared=e", "--vm", "--kernel", DEVTEST, "--name", "w", "--device", "edu,shared=e,x-y=1"],
         "shared=e was 'edu,shared=e' before"),
        (["--device", "edu,shared=e,dma_mask=0xffffff"], "a shared edu keeps dma_mask"),
        (["--device", "edu,shared=e", "--device", "edu,shared=f"], "a second shared device"),
        (["--device", "edu,shared=e", "--device", "edu,shared=e"], "shared=e twice"),
        (["--device", "edu,shared=e", "--viommu", "shadow"], "--viommu and a shared device"),
        (["--device", "edu,shared=e", "--share-mode", "swap"], "--share-mode swap: want switch or rewrite"),
    ]
    for extra, message in cases:
        run = umbra_run("--kernel", DEVTEST, "--mem", "32M", *extra, timeout=30)
        expect(run.rc == 2 and message in run.err, run, "want exit 2 and %r" % message)
    return "%d bad option sets refused" % len(cases)


TESTS = [
    ("three_vms_share_one_edu_in_both_modes", three_vms_share_one_edu_in_both_modes),
    ("eight_vms_share_one_edu", eight_vms_share_one_edu),
    ("attacks_through_the_shared_device_blocked", attacks_through_the_shared_device_blocked),
    ("misbehaving_sharer_does_not_block_the_others", misbehaving_sharer_does_not_block_the_others),
    ("bad_share_options_refused", bad_share_options_refused),
]
