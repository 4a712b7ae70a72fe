"""test_monitor.py — the monitor shell (--monitor), driven through a
pseudo-terminal as a person would type at it, and the page-table dumps it
and the --ptdump triggers print, read back with tools/umbra-ptdump.

What is asserted is what cannot move between machines: the shell's
answers after every VM has ended (checked against the run's own CSV and
the known layout of tinyos), the states it shows, its messages for bad
input, and the entry states of dumps taken at one exact exit under
-icount.  A paused run is only checked for being paused, never for counts.
"""
import csv
import os
import pty
import re
import select
import signal
import subprocess
import tempfile
import time

from common import REPO, RUNNER, guest_image

PTDUMP = os.path.join(REPO, "tools", "umbra-ptdump")
PROMPT = "umbra> "


class Console:
    """umbra-run with its stdin on a pty (QEMU reads the UART's input from
    it) and its stdout read as it comes."""

    def __init__(self, args, timeout=120):
        self.master, slave = pty.openpty()
        # A session of its own, so a failed test can end QEMU too (killpg).
        self.proc = subprocess.Popen([RUNNER, "--timeout", str(timeout)] + args, stdin=slave,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        os.close(slave)
        self.out = ""
        self.mark = 0

    def read_until(self, text, seconds=90):
        """Everything printed since the last call, up to and including text."""
        deadline = time.time() + seconds
        while self.out.find(text, self.mark) < 0:
            if time.time() > deadline or self.proc.poll() is not None and not self._read(0):
                raise AssertionError("waited for %r; the console shows:\n%s" % (text, self.out[-3000:]))
            self._read(0.2)
        end = self.out.index(text, self.mark) + len(text)
        chunk, self.mark = self.out[self.mark:end], end
        return chunk.replace("\r", "")

    def _read(self, wait):
        ready, _, _ = select.select([self.proc.stdout], [], [], wait)
        if not ready:
            return False
        data = os.read(self.proc.stdout.fileno(), 65536)
        self.out += data.decode("utf-8", "replace")
        return bool(data)

    def command(self, line):
        """Type a line at the prompt; return what it printed before the next prompt."""
        os.write(self.master, (line + "\r").encode())
        answer = self.read_until(PROMPT)
        assert answer.startswith(line + "\n"), "no echo of %r: %r" % (line, answer[:200])
        return answer[len(line) + 1:-len(PROMPT)]

    def type(self, data):
        os.write(self.master, data)

    def finish(self, seconds=30):
        try:
            self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        while self._read(0):
            pass
        os.close(self.master)
        return self.proc.returncode


def field(text, pattern):
    m = re.search(pattern, text)
    assert m, "no %r in:\n%s" % (pattern, text)
    return m.group(1)


def ptdump_summary(log_text, *args):
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
        f.write(log_text)
    try:
        p = subprocess.run([PTDUMP, f.name, "--summary"] + list(args), capture_output=True, text=True, timeout=60)
    finally:
        os.unlink(f.name)
    assert p.returncode == 0, p.stderr
    return dict(kv.split("=") for kv in p.stdout.split() if "=" in kv)


def test_shell_after_the_run():
    """ssp: held at boot, run to the end, then every command checked
    against the CSV the same run wrote and the tinyos layout."""
    with tempfile.TemporaryDirectory() as d:
        stats = os.path.join(d, "stats.csv")
        con = Console(["--kernel", guest_image("tinyos"), "--mode", "ssp", "--icount", "--monitor",
                       "--stats", stats, "--append", "workload=fork iters=20"])
        try:
            banner = con.read_until(PROMPT)
            ram_hpa = int(field(banner, r"RAM at host (0x[0-9a-f]+)"), 16)
            assert "the guests wait" in banner, banner
            held = con.command("vms")
            assert re.search(r"vm0\s+ssp\s+1\s+0\s+0\s+not started", held), held
            early = con.command("translate vm0 0x80200000")
            assert "is not running a guest (not started yet" in early, early
            unknown = con.command("frobnicate")
            assert "unknown command 'frobnicate'" in unknown, unknown
            usage = con.command("stats")
            assert "usage: stats VM" in usage, usage
            con.type(b"continue\r")
            assert "guests run" in con.read_until("every VM has ended")
            con.read_until(PROMPT)
            vms = con.command("vms")
            stats_text = con.command("stats vm0")
            shadow = con.command("shadow vm0")
            kernel = con.command("translate vm0 0x80200000")
            hole = con.command("translate vm0 0x20000000")
            answers = {
                "no vm": con.command("translate nosuch 0x10"),
                "bad address": con.command("translate vm0 zz"),
                "bad vcpu": con.command("translate vm0 0x10 7"),
                "again": con.command("continue"),
            }
            dump = con.command("ptdump vm0 all")
            trace = con.command("trace mm on")
            assert trace.strip() == "trace mm on", trace
            con.type(b"quit\r")
            con.read_until("umbra: monitor: quit")
        finally:
            rc = con.finish()
        with open(stats) as f:
            rows = list(csv.DictReader(f))
    assert rc == 0, "quit after a clean run should exit 0, got %d" % rc
    final = rows[-1]
    # vms: what the exit report counted.
    m = re.search(r"vm0\s+ssp\s+1\s+(\d+)\s+(\d+)\s+ended, status 0: shutdown", vms)
    assert m, vms
    assert (m.group(1), m.group(2)) == (final["exits_full"], final["exits_fast"]), (m.groups(), final["exits_full"])
    # stats: the same table the report printed, every cause as the CSV says.
    for cause in ("satp_write_miss", "sfence_va_asid", "hidden_fault", "ad_update"):
        line = field(stats_text, r"\n  (%s\s+\d+\s+\d+)" % cause).split()
        assert line[1:] == [final["full_" + cause], final["fast_" + cause]], (line, cause)
    # shadow: the buffer's figures are the report's.
    hits, misses = field(shadow, r"(\d+) hits, \d+ misses"), field(shadow, r"\d+ hits, (\d+) misses")
    assert (hits, misses) == (final["mm_sptbuf_hits"], final["mm_sptbuf_misses"]), shadow
    rate = 1000 * int(hits) // (int(hits) + int(misses))
    assert "hit rate %d.%d%%" % (rate // 10, rate % 10) in shadow, shadow
    assert "(Bare: the physical shadow)" in shadow, shadow
    # Nothing was reclaimed in this run, so every shadow built is still live,
    # and every buffer miss that was not evicted is still an entry.
    assert final["mm_shadow_roots_reclaimed"] == "0", final["mm_shadow_roots_reclaimed"]
    live = int(field(shadow, r"(\d+) live shadows"))
    assert live == int(final["mm_shadow_roots_built"]), (live, final["mm_shadow_roots_built"])
    assert live == len(re.findall(r"\n  \d+\s+0x[0-9a-f]{16} ", shadow)), shadow
    in_use = int(field(shadow, r"entries, (\d+) in use"))
    assert in_use == int(final["mm_sptbuf_misses"]) - int(final["mm_sptbuf_evictions"]), (in_use, final)
    # translate: tinyos's direct map is a 2 MiB G leaf at GPA = GVA; the
    # shadow maps it to the host frame Umbra gave that GPA.
    assert "guest: -> GPA 0x80200000" in kernel, kernel
    assert re.search(r"L1 0x[0-9a-f]+\s*\[  1\] 0x[0-9a-f]{16} vrwx-gad", kernel), kernel
    assert "-> HPA 0x%x" % (ram_hpa + 0x200000) in kernel, kernel
    assert "guest: no translation: not valid" in hole and re.search(r"shadow \d+: no translation", hole), hole
    assert "no VM named 'nosuch'" in answers["no vm"], answers
    assert "'zz' is not an address" in answers["bad address"], answers
    assert "has no vCPU '7'" in answers["bad vcpu"], answers
    assert "nothing to continue" in answers["again"], answers
    # ptdump: a dump the picture tool reads, with every live shadow in it.
    summary = ptdump_summary(dump)
    assert int(summary["shadowed"]) > 0 and summary["write-protected"] == "0", summary
    assert int(summary["sptbuf"]) == len(re.findall(r"guest satp 0x[0-9a-f]+ -> shadow", shadow)), summary
    return "%s exits, hit rate %s" % (final["exits_full"], field(shadow, r"hit rate ([0-9.]+%)"))


def test_escape_key_pauses_running_guests():
    """hap, a workload far too long to finish: Ctrl-] while it runs
    pauses it, the shell works on the live VM, quit ends the machine."""
    con = Console(["--kernel", guest_image("tinyos"), "--mode", "hap", "--monitor",
                   "--append", "workload=fork iters=1000000"])
    try:
        con.read_until(PROMPT)
        con.type(b"continue\r")
        con.read_until("tinyos: start workload=fork")
        con.type(b"\x1d")
        con.read_until("guests paused")
        con.read_until(PROMPT)
        vms = con.command("vms")
        walk = con.command("translate vm0 0x80200000")
        shadow = con.command("shadow vm0")
        con.type(b"quit\r")
        report = con.read_until("umbra: monitor: quit")
    finally:
        rc = con.finish()
    assert re.search(r"vm0\s+hap\s+1\s+\d+\s+\d+\s+paused", vms), vms   # fast: SBI BASE/TIME calls
    assert "did not stop" not in con.out, con.out[-2000:]
    # Under hap the second walk is the G-stage's, of the GPA the guest's gives.
    assert "G-stage walk" in walk and "guest: -> GPA 0x80200000" in walk, walk
    assert re.search(r"G-stage: -> HPA 0x[0-9a-f]+", walk), walk
    assert "no shadow tables" in shadow and "VMID 1" in shadow, shadow
    assert "still running (monitor snapshot)" in report, report[-1500:]
    assert rc == 0, rc
    return "paused and inspected"


LINUX = [os.path.join(REPO, "build", "linux", "Image"), os.path.join(REPO, "build", "linux", "initramfs.cpio")]


def test_pause_two_vcpus_again_and_again():
    """Linux with 2 vCPUs under ssp (shootdowns, remote fences, the fast
    path): paused and let go several times at whatever point it has reached;
    each time both vCPUs stop, and the guest goes on."""
    if not all(os.path.exists(p) for p in LINUX):
        raise AssertionError("build/linux is missing (make linux)")
    con = Console(["--kernel", LINUX[0], "--initrd", LINUX[1], "--mem", "256M", "--cpus", "2", "--mode", "ssp",
                   "--monitor", "--append", "console=hvc0 earlycon=sbi workload=fork iters=100000"], timeout=240)
    exits = []
    try:
        con.read_until(PROMPT)
        con.type(b"continue\r")
        con.read_until("Run /init", 180)
        for _ in range(4):
            time.sleep(0.3)
            con.type(b"\x1d")
            con.read_until("guests paused")
            con.read_until(PROMPT)
            vms = con.command("vms")
            assert re.search(r"vm0\s+ssp\s+2\s+\d+\s+\d+\s+paused", vms), vms
            exits.append(int(field(vms, r"vm0\s+ssp\s+2\s+(\d+)")))
            assert "shadow" in con.command("translate vm0 0xffffffff80000000 1")
            os.write(con.master, b"continue\r")
            con.read_until("guests run")
        con.type(b"\x1d")
        con.read_until(PROMPT)
        con.type(b"quit\r")
        con.read_until("umbra: monitor: quit")
    finally:
        rc = con.finish()
    assert "did not stop" not in con.out and "PANIC" not in con.out, con.out[-2000:]
    assert exits == sorted(exits) and exits[-1] > exits[0], exits   # it ran between the pauses
    assert rc == 0, rc
    return "4 pauses at %s exits" % ", ".join(map(str, exits))


def test_dumps_of_two_vms_stay_apart():
    """Two VMs ending at about the same time, each with an end dump: the
    dumps come out whole, one after the other, each of its own VM."""
    args = ["--append", "workload=fork iters=5", "--kernel", guest_image("tinyos")]
    p = subprocess.run([RUNNER, "--timeout", "120", "--ptdump", "end", "--mode", "ssp", "--name", "left"] + args +
                       ["--vm", "--mode", "tsp", "--name", "right"] + args, capture_output=True, text=True,
                       timeout=150, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stdout[-1500:] + p.stderr
    begins = re.findall(r"ptdump begin vm=(\w+) mode=(\w+) when=end", p.stdout)
    assert sorted(begins) == [("left", "ssp"), ("right", "tsp")], begins
    lines = [l.rstrip("\r") for l in p.stdout.split("\n") if l.startswith("ptdump ")]
    opened = 0
    for line in lines:                       # never a begin inside another dump
        opened += line.startswith("ptdump begin")
        opened -= line == "ptdump end"
        assert opened in (0, 1), line
    by_vm = {}
    for i, (name, _) in enumerate(re.findall(r"ptdump begin vm=(\w+) mode=(\w+)", p.stdout)):
        by_vm[name] = ptdump_summary(p.stdout, "--index", str(i))
    assert int(by_vm["left"]["sptbuf"]) > 0 and by_vm["left"]["write-protected"] == "0", by_vm
    assert by_vm["right"]["sptbuf"] == "0" and int(by_vm["right"]["write-protected"]) > 0, by_vm
    return "two whole dumps"


def test_ptdump_triggers_show_each_mode():
    """The first sfence.vma of the first fork (tinyos write-protects the
    parent's leaf, then fences it): under ssp the shadow still grants W
    when the fence traps and no longer after it; under tsp the store was
    emulated, so nothing is stale, and the guest's tables are protected."""
    counts = {}
    for mode in ("ssp", "tsp"):
        p = subprocess.run([RUNNER, "--timeout", "120", "--kernel", guest_image("tinyos"), "--mode", mode,
                            "--icount", "--append", "workload=fork iters=5", "--ptdump", "sfence_va_asid:1",
                            "--ptdump", "end"], capture_output=True, text=True, timeout=150,
                           stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr
        assert p.stdout.count("ptdump begin") == 3, p.stdout.count("ptdump begin")
        counts[mode] = [ptdump_summary(p.stdout, "--index", str(i)) for i in range(3)]
    at, after, end = counts["ssp"]
    assert int(at["stale"]) > 0 and after["stale"] == "0", (at, after)
    assert at["write-protected"] == "0" and int(at["sptbuf"]) > 0, at
    tsp_at, tsp_after, _ = counts["tsp"]
    assert tsp_at["stale"] == "0" and tsp_after["stale"] == "0", tsp_at
    assert int(tsp_at["write-protected"]) > 0 and tsp_at["sptbuf"] == "0", tsp_at
    # hap keeps no shadow: its dump at the end is the guest's tree alone.
    p = subprocess.run([RUNNER, "--timeout", "120", "--kernel", guest_image("tinyos"), "--mode", "hap",
                        "--append", "workload=fork iters=5", "--ptdump", "end"], capture_output=True, text=True,
                       timeout=150, stdin=subprocess.DEVNULL)
    assert p.returncode == 0 and p.stdout.count("ptdump begin vm=vm0 mode=hap when=end") == 1, p.stdout[-1500:]
    hap = ptdump_summary(p.stdout)
    assert int(hap["guest"]) >= 2 and hap["shadow"] == "0" and hap["shadowed"] == "0", hap
    return "ssp stale %s -> %s, tsp write-protected %s" % (at["stale"], after["stale"], tsp_at["write-protected"])


def test_bad_options_are_refused():
    for args, want in ((["--ptdump", "sometimes"], "--ptdump sometimes: want end or CAUSE:N"),
                       (["--ptdump", "end"] * 5, "--ptdump given 5 times"),
                       (["--native", "--monitor"], "--monitor needs Umbra")):
        p = subprocess.run([RUNNER, "--kernel", guest_image("hello")] + args, capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        assert p.returncode == 2 and want in p.stderr, (p.returncode, p.stderr)
    # A cause name only Umbra knows is checked there, and named.
    p = subprocess.run([RUNNER, "--timeout", "60", "--kernel", guest_image("hello"), "--ptdump", "sfence_vma:1"],
                       capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert p.returncode == 4 and "unknown exit cause" in p.stdout, (p.returncode, p.stdout[-500:])
    return "refused"


TESTS = [
    ("shell_after_the_run", test_shell_after_the_run),
    ("escape_key_pauses_running_guests", test_escape_key_pauses_running_guests),
    ("pause_two_vcpus_again_and_again", test_pause_two_vcpus_again_and_again),
    ("dumps_of_two_vms_stay_apart", test_dumps_of_two_vms_stay_apart),
    ("ptdump_triggers_show_each_mode", test_ptdump_triggers_show_each_mode),
    ("bad_options_are_refused", test_bad_options_are_refused),
]
