"""QEMU integration tests of the foundation: hello and selftests guests under
hap and natively, several VMs, fault injection, SBI conformance, isolation,
exit status and determinism."""
import os
import subprocess
import tempfile

from common import (REPO, comparable, csv_rows, expect, expect_same_guest_output,
                    guest_image, umbra_run)

HELLO = guest_image("hello")
SELFTESTS = guest_image("selftests")


def summed_full_exits(row):
    return sum(int(v) for k, v in row.items() if k.startswith("full_"))


def hello_hap_matches_native():
    native = umbra_run("--native", "--kernel", HELLO, "--mem", "64M")
    with tempfile.TemporaryDirectory() as d:
        stats = os.path.join(d, "s.csv")
        virt = umbra_run("--kernel", HELLO, "--mem", "64M", "--stats", stats)
        expect(native.rc == 0, native, "native hello must shut down cleanly")
        expect(virt.rc == 0, virt, "hello under hap must shut down cleanly")
        expect_same_guest_output(native, virt, "hello:")
        expect(comparable(virt.lines("hello:"))[-1].endswith(" 0 failed"), virt,
               "hello's own checks must pass")
        expect(any(l.startswith("== vm0: mode hap") for l in virt.lines("==")), virt, "exit table missing")
        rows = csv_rows(stats)
        expect(len(rows) == 1, virt, "one CSV row per VM-run")
        row = rows[0]
        expect(row["full_sbi_srst"] == "1" and row["status"] == "0", virt, "SRST exit not counted")
        expect(int(row["exits_full"]) == summed_full_exits(row), virt, "total != sum of causes")
        expect(int(row["full_sbi_dbcn"]) > 0 and int(row["instret_guest"]) > 0, virt, "counters empty")


def hello_counts_repeat_under_icount():
    """Single-vCPU runs under -icount must repeat exactly (brief section 4)."""
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for i in range(2):
            stats = os.path.join(d, "s%d.csv" % i)
            run = umbra_run("--icount", "--kernel", HELLO, "--mem", "64M", "--stats", stats)
            expect(run.rc == 0, run, "icount run failed")
            rows.append(csv_rows(stats)[0])
    differing = [k for k in rows[0] if rows[0][k] != rows[1][k]]
    if differing:
        raise AssertionError("icount runs differ in %s: %s vs %s" % (
            differing, [rows[0][k] for k in differing], [rows[1][k] for k in differing]))
    return "instret guest=%s umbra=%s exits=%s" % (
        rows[0]["instret_guest"], rows[0]["instret_umbra"], rows[0]["exits_full"])


def two_vms_run_at_once():
    with tempfile.TemporaryDirectory() as d:
        stats = os.path.join(d, "s.csv")
        run = umbra_run("--stats", stats, "--kernel", HELLO, "--mem", "32M", "--name", "left",
                        "--vm", "--kernel", HELLO, "--mem", "64M", "--name", "right")
        expect(run.rc == 0, run, "two hello VMs must both shut down cleanly")
        for name, mib in (("left", 32), ("right", 64)):
            lines = comparable(run.lines("[%s] hello:" % name))
            expect(lines and lines[-1].endswith(" 0 failed"), run, "%s did not finish its checks" % name)
            expect(any("(%d MiB)" % mib in l for l in lines), run, "%s saw the wrong RAM size" % name)
        expect(sorted(r["vm"] for r in csv_rows(stats)) == ["left", "right"], run, "CSV rows")


def selftests_match_native(test, mem="64M", cpus=1):
    """test is the selftests guest's bootargs: "NAME [option=value ...]"."""
    common = ["--kernel", SELFTESTS, "--mem", mem, "--cpus", str(cpus), "--append", "test=" + test]
    native = umbra_run("--native", *common)
    virt = umbra_run(*common)
    expect(native.rc == 0, native, "native selftests %s must pass" % test)
    expect(virt.rc == 0, virt, "selftests %s under hap must pass" % test)
    expect_same_guest_output(native, virt, "selftests:")
    return virt


def sbi_conformance():
    run = selftests_match_native("sbi")
    return run.lines("selftests:")[-1]


def dbcn_rejects_buffers_outside_ram():
    """A DBCN write naming memory outside the guest's RAM must get
    SBI_ERR_INVALID_PARAM and print nothing from it.  (Natively OpenSBI
    faults on such an address and hangs, so there is no native reference.)"""
    run = umbra_run("--kernel", SELFTESTS, "--mem", "64M", "--append", "test=sbi dbcn_outside=yes")
    expect(run.rc == 0, run, "selftests sbi with dbcn_outside=yes must pass under hap")
    expect(any("outside" in l and l.startswith("selftests: PASS") for l in run.lines("selftests:")), run,
           "the outside-RAM DBCN check did not run")


def faults_match_native():
    with tempfile.TemporaryDirectory() as d:
        stats = os.path.join(d, "s.csv")
        native = umbra_run("--native", "--kernel", SELFTESTS, "--mem", "64M", "--append", "test=fault")
        virt = umbra_run("--kernel", SELFTESTS, "--mem", "64M", "--append", "test=fault", "--stats", stats)
        expect(native.rc == 0 and virt.rc == 0, virt, "selftests fault must pass in both")
        expect_same_guest_output(native, virt, "selftests:")
        row = csv_rows(stats)[0]
        # load, store and fetch outside RAM: three G-stage faults, each injected
        # into the guest as the access fault bare QEMU raises.
        expect(int(row["full_gstage_fault"]) >= 3, virt, "G-stage faults not counted")
        expect(int(row["faults_injected"]) == int(row["full_gstage_fault"]), virt, "injections")
        return "gstage_fault=%s injected=%s" % (row["full_gstage_fault"], row["faults_injected"])


def own_page_tables_match_native():
    selftests_match_native("paging", mem="128M")


def smp_hsm_ipi_rfence_match_native():
    """Secondary vCPUs started and stopped through HSM, IPIs in every mask
    form, and remote fences whose effect a secondary observes, with 2 and 4
    vCPUs (each on its own hart)."""
    results = []
    for cpus in (2, 4):
        run = selftests_match_native("smp", cpus=cpus)
        results.append(run.lines("selftests: smp")[-1])
    return "; ".join(results)


def shutdown_stops_running_vcpus():
    """SRST from vCPU 0 while three other vCPUs are busy in guest code: Umbra
    must pull them out of the guest (stop request + IPI) to end the VM."""
    with tempfile.TemporaryDirectory() as d:
        stats = os.path.join(d, "s.csv")
        run = umbra_run("--kernel", SELFTESTS, "--mem", "64M", "--cpus", "4", "--stats", stats,
                        "--append", "test=smp end_running=yes", timeout=60)
        expect(run.rc == 0, run, "the VM must end cleanly with running secondaries")
        row = csv_rows(stats)[0]
        expect(row["cpus"] == "4" and row["full_sbi_srst"] == "1", run, "report incomplete")


def hsm_start_outside_ram_is_refused():
    """hart_start at an address outside the VM's RAM gets INVALID_ADDRESS and
    the vCPU stays stopped.  (OpenSBI accepts it natively and loses the hart,
    so there is no native reference.)"""
    run = umbra_run("--kernel", SELFTESTS, "--mem", "64M", "--cpus", "2", "--append",
                    "test=smp hsm_outside=yes")
    expect(run.rc == 0, run, "selftests smp with hsm_outside=yes must pass under hap")
    expect(any("outside" in l and l.startswith("selftests: PASS") for l in run.lines("selftests:")), run,
           "the outside-RAM hart_start check did not run")


def isolation_canaries():
    """Two VMs fill their RAM with patterns and poke at every guest-physical
    region outside it; each must fault and both patterns must survive."""
    run = umbra_run("--kernel", SELFTESTS, "--mem", "64M", "--append", "test=canary seed=11",
                    "--vm", "--kernel", SELFTESTS, "--mem", "64M", "--append", "test=canary seed=22",
                    timeout=120)
    expect(run.rc == 0, run, "canary VMs must both pass")
    for vm, seed in (("vm0", 11), ("vm1", 22)):
        lines = [l for l in run.lines("[%s] selftests: canary" % vm)]
        expect(lines and "intact=yes" in lines[-1] and "seed=%d" % seed in lines[-1], run,
               "%s canary not intact" % vm)


# Traps QEMU takes into HS-mode from a guest: VS ecall (10), guest-page
# faults (20, 21, 23), virtual instruction (22) and the HS-level interrupts
# (1, 5, 9), which only trap while a guest runs (Umbra keeps SIE = 0).
GUEST_EXIT_EXCEPTIONS = {0x0a, 0x14, 0x15, 0x16, 0x17}
GUEST_EXIT_INTERRUPTS = {0x1, 0x5, 0x9}


def exits_in_qemu_log(path):
    """Per hart, the number of guest exits QEMU's -d int log records."""
    import re
    pattern = re.compile(r"hart:(\d+), async:(\d), cause:([0-9a-f]+),")
    per_hart = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = pattern.search(line)
            if not m:
                continue
            hart, is_async, cause = int(m.group(1)), m.group(2) == "1", int(m.group(3), 16)
            if (cause in GUEST_EXIT_INTERRUPTS) if is_async else (cause in GUEST_EXIT_EXCEPTIONS):
                per_hart[hart] = per_hart.get(hart, 0) + 1
    return per_hart


def exit_counts_match_qemu_trap_log():
    """Umbra's own exit counts, checked against an independent witness: the
    trap log QEMU writes.  Two VMs on harts 0 and 1, one making SBI calls,
    one faulting outside its RAM 1908 times.  QEMU logs every trap into
    HS-mode, so the witness is full and fast exits together (SBI BASE and
    TIME calls take the short path)."""
    with tempfile.TemporaryDirectory() as d:
        stats, log = os.path.join(d, "s.csv"), os.path.join(d, "q.log")
        run = umbra_run("--stats", stats, "--qemu-log", log,
                        "--kernel", HELLO, "--mem", "64M",
                        "--vm", "--kernel", SELFTESTS, "--mem", "64M", "--append", "test=canary seed=5",
                        timeout=120)
        expect(run.rc == 0, run, "both VMs must pass")
        umbra = {r["vm"]: int(r["exits_full"]) + int(r["exits_fast"]) for r in csv_rows(stats)}
        qemu = exits_in_qemu_log(log)
    expect(umbra["vm1"] >= 1908, run, "the canary VM's faults are missing")
    if qemu.get(0) != umbra["vm0"] or qemu.get(1) != umbra["vm1"]:
        raise AssertionError("QEMU logged %s exits per hart, Umbra counted vm0=%d vm1=%d" % (
            qemu, umbra["vm0"], umbra["vm1"]))
    return "vm0=%d vm1=%d exits, equal to QEMU's log" % (umbra["vm0"], umbra["vm1"])


def guest_failure_gives_failure_status():
    run = umbra_run("--kernel", SELFTESTS, "--mem", "64M", "--append", "test=no-such-test")
    expect(run.rc == 1, run, "SRST with a failure reason must end QEMU with status 1")
    expect("ended in failure" in run.err, run, "runner must say why")


def hung_guest_times_out():
    with tempfile.TemporaryDirectory() as d:
        image = os.path.join(d, "spin.bin")
        with open(image, "wb") as f:
            f.write(bytes.fromhex("6f000000"))       # j .
        run = umbra_run("--kernel", image, "--mem", "16M", timeout=5)
        expect(run.rc == 124 and "timeout" in run.err, run, "a hung guest must time out with 124")


def boot_umbra_directly(*extra):
    """Boot build/umbra.elf on QEMU without the runner (so without a config)."""
    qemu = ["qemu-system-riscv64", "-M", "virt", "-m", "256M", "-nographic",
            "-bios", "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin",
            "-kernel", os.path.join(REPO, "build", "umbra.elf")] + list(extra)
    return subprocess.run(qemu, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def umbra_without_configuration_refuses():
    p = boot_umbra_directly()
    if p.returncode != 4 or "no configuration" not in p.stdout:
        raise AssertionError("rc=%d, output:\n%s" % (p.returncode, p.stdout[-1500:]))


def cpu_without_h_extension_is_refused():
    p = boot_umbra_directly("-cpu", "rv64,h=false")
    if p.returncode != 3 or "no H extension" not in p.stdout:
        raise AssertionError("rc=%d, output:\n%s" % (p.returncode, p.stdout[-1500:]))


TESTS = [
    ("hello_hap_matches_native", hello_hap_matches_native),
    ("hello_counts_repeat_under_icount", hello_counts_repeat_under_icount),
    ("two_vms_run_at_once", two_vms_run_at_once),
    ("sbi_conformance", sbi_conformance),
    ("dbcn_rejects_buffers_outside_ram", dbcn_rejects_buffers_outside_ram),
    ("faults_match_native", faults_match_native),
    ("own_page_tables_match_native", own_page_tables_match_native),
    ("smp_hsm_ipi_rfence_match_native", smp_hsm_ipi_rfence_match_native),
    ("shutdown_stops_running_vcpus", shutdown_stops_running_vcpus),
    ("hsm_start_outside_ram_is_refused", hsm_start_outside_ram_is_refused),
    ("isolation_canaries", isolation_canaries),
    ("exit_counts_match_qemu_trap_log", exit_counts_match_qemu_trap_log),
    ("guest_failure_gives_failure_status", guest_failure_gives_failure_status),
    ("hung_guest_times_out", hung_guest_times_out),
    ("umbra_without_configuration_refuses", umbra_without_configuration_refuses),
    ("cpu_without_h_extension_is_refused", cpu_without_h_extension_is_refused),
]
