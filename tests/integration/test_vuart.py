"""test_vuart.py — the virtual ns16550 UART each VM gets at 0x1000_0000
(core/devices/vuart.c).  Two tiny guests that know nothing of SBI's
console: tests/guests/uart_hello.S prints through the UART and reads its
registers back, tests/guests/uart_echo.S reads bytes from it.  Their output
must be the same natively (QEMU's own 16550) and under every mode, and with
several VMs each VM's lines carry its "[name] " prefix.  Input is fed on
QEMU's stdin, only after the guest says it is ready, and every run has a
timeout."""
import os
import select
import signal
import subprocess
import time

from common import REPO, RUNNER, Run, expect, expect_same_guest_output, umbra_run

HELLO = os.path.join(REPO, "build", "tests", "uart_hello.bin")
ECHO = os.path.join(REPO, "build", "tests", "uart_echo.bin")
MODES = [("native", ["--native"]), ("hap", ["--mode", "hap"]), ("tsp", ["--mode", "tsp"]),
         ("ssp", ["--mode", "ssp"])]
INPUT = b"umbra."
# What uart_echo prints for INPUT: one line per byte before the '.'.
ECHOED = ["echo: ready"] + ["echo: got 0x%02x" % b for b in INPUT[:-1]] + ["echo: done"]


def run_with_input(args, data, ready, timeout=60):
    """umbra-run with a pipe on its stdin (QEMU's UART input): wait for the
    line `ready`, write data, then wait for the run to end."""
    proc = subprocess.Popen([RUNNER, "--timeout", str(timeout)] + args, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    out, sent = b"", False
    deadline = time.time() + timeout + 30
    try:
        while True:
            if not sent and ready.encode() in out:
                proc.stdin.write(data)
                proc.stdin.flush()
                sent = True
            if time.time() > deadline:
                raise AssertionError("no end after %d s; output:\n%s" % (timeout + 30, out.decode(errors="replace")[-3000:]))
            ready_fds, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready_fds:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                out += chunk
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdin.close()
    return Run(args, proc.returncode, out.decode("utf-8", "replace"), "")


def hello_same_natively_and_in_every_mode():
    """Polled transmit and the registers read back: byte for byte the lines
    QEMU's own 16550 gives natively, in hap, tsp and ssp, each access an
    mmio exit."""
    runs = {}
    for label, extra in MODES:
        run = umbra_run("--kernel", HELLO, "--mem", "64M", *extra, timeout=30)
        expect(run.rc == 0, run, "%s: the UART guest did not end cleanly" % label)
        expect("uart: bye" in run.lines("uart: "), run, "%s: the guest did not finish" % label)
        runs[label] = run
    for label in ("hap", "tsp", "ssp"):
        expect_same_guest_output(runs["native"], runs[label], "uart: ")
    registers = [l[len("uart: "):] for l in runs["native"].lines("uart: ") if "=" in l]
    return "%d lines; %s" % (len(runs["native"].lines("uart: ")), " ".join(r.replace(" ", "_") for r in registers[:6]))


def two_vms_prefix_their_uart_lines():
    """With two VMs every UART line is buffered per VM and printed with its
    "[name] " prefix, as SBI console output is."""
    native = umbra_run("--kernel", HELLO, "--mem", "64M", "--native", timeout=30)
    run = umbra_run("--kernel", HELLO, "--mem", "64M", "--mode", "tsp", "--name", "left",
                    "--vm", "--kernel", HELLO, "--mem", "32M", "--mode", "ssp", "--name", "right", timeout=30)
    expect(run.rc == 0, run, "two UART guests did not both end cleanly")
    want = native.lines("uart: ")
    expect(want, native, "the native run printed nothing")
    for name in ("left", "right"):
        got = [l[len(name) + 3:] for l in run.lines("[%s] " % name)]
        expect(got == want, run, "[%s] lines differ from the native ones: %r" % (name, got[:5]))
    stray = [l for l in run.lines("") if "uart: " in l and not l.startswith(("[left] ", "[right] "))]
    expect(not stray, run, "UART lines without a prefix: %r" % stray[:3])
    return "%d lines per VM" % len(want)


def echo_reads_input_natively_and_in_every_mode():
    """Bytes typed on the console reach the guest's RBR (LSR.DR polled), in
    order, natively and in every mode."""
    for label, extra in MODES:
        run = run_with_input(["--kernel", ECHO, "--mem", "64M"] + extra, INPUT, "echo: ready", timeout=30)
        expect(run.rc == 0, run, "%s: the echo guest did not end cleanly" % label)
        got = run.lines("echo: ")
        expect(got == ECHOED, run, "%s: echoed %r, want %r" % (label, got, ECHOED))
    return "%d bytes echoed in %d runs" % (len(INPUT) - 1, len(MODES))


def input_goes_to_the_first_vm():
    """With several VMs only the first one reads the console: it echoes
    every byte typed, in order, beside a second VM whose UART never shows
    received data (LSR.DR clear)."""
    run = run_with_input(["--kernel", ECHO, "--mem", "64M", "--name", "first", "--vm", "--kernel", HELLO,
                          "--mem", "32M", "--mode", "tsp", "--name", "second"],
                         INPUT, "[first] echo: ready", timeout=30)
    expect(run.rc == 0, run, "the two VMs did not both end cleanly")
    got = [l[len("[first] "):] for l in run.lines("[first] ")]
    expect(got == ECHOED, run, "the first VM echoed %r, want %r" % (got, ECHOED))
    second = run.lines("[second] ")
    expect("[second] uart: bye" in second and "[second] uart: lsr=0x60" in second, run,
           "the second VM saw received data or did not finish")
    return "first echoed %d bytes; second LSR.DR clear" % (len(INPUT) - 1)


def echo_through_the_monitor(pause_first):
    """The echo guest under --monitor: `continue`, optionally Ctrl-] and
    `continue` again once it is reading, then INPUT typed; returns what it
    echoed and the exit status after `quit`."""
    from test_monitor import PROMPT, Console
    c = Console(["--kernel", ECHO, "--mem", "64M", "--monitor"], timeout=60)
    try:
        c.read_until(PROMPT)
        c.type(b"continue\r")
        c.read_until("echo: ready")
        if pause_first:
            c.type(bytes([0x1d]))         # MONITOR_ESCAPE_KEY
            c.read_until("guests paused")
            c.read_until(PROMPT)
            c.type(b"continue\r")
            c.read_until("guests run")
        c.type(INPUT)
        c.read_until("echo: done")
        c.read_until(PROMPT)
        c.type(b"quit\r")
        c.read_until("monitor: quit")
    finally:
        rc = c.finish()
    return [l for l in c.out.replace("\r", "").split("\n") if l.startswith("echo: ")], rc


def monitor_passes_input_to_the_guest():
    """With the monitor on, it owns the console's input: bytes typed while
    the guests run reach the first VM's UART in order."""
    got, rc = echo_through_the_monitor(pause_first=False)
    assert got == ECHOED, "the guest echoed %r, want %r" % (got, ECHOED)
    assert rc == 0, "quit ended with %d" % rc
    return "%d bytes passed on by the monitor" % (len(INPUT) - 1)


def escape_key_is_never_passed_on():
    """Ctrl-] while the guest reads its UART opens the prompt and does not
    reach the guest; bytes typed after `continue` do."""
    got, rc = echo_through_the_monitor(pause_first=True)
    assert got == ECHOED, "the guest echoed %r, want %r (the escape key must not be among them)" % (got, ECHOED)
    assert rc == 0, rc
    return "prompt opened; the guest got only the bytes after it"


TESTS = [
    ("hello_same_natively_and_in_every_mode", hello_same_natively_and_in_every_mode),
    ("two_vms_prefix_their_uart_lines", two_vms_prefix_their_uart_lines),
    ("echo_reads_input_natively_and_in_every_mode", echo_reads_input_natively_and_in_every_mode),
    ("input_goes_to_the_first_vm", input_goes_to_the_first_vm),
    ("monitor_passes_input_to_the_guest", monitor_passes_input_to_the_guest),
    ("escape_key_is_never_passed_on", escape_key_is_never_passed_on),
]
