"""Helpers shared by the QEMU integration tests: run tools/umbra-run and
pick a guest's own lines out of the console output."""
import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNNER = os.path.join(REPO, "tools", "umbra-run")
GUESTS = os.path.join(REPO, "build", "guests")


def guest_image(name):
    return os.path.join(GUESTS, name + ".bin")


class Run:
    """The result of one umbra-run invocation."""

    def __init__(self, args, rc, out, err):
        self.args, self.rc, self.out, self.err = args, rc, out, err

    def lines(self, prefix):
        """Console lines starting with prefix, with the UART's CR removed."""
        return [l.rstrip("\r") for l in self.out.split("\n") if l.rstrip("\r").startswith(prefix)]

    def describe(self):
        tail = "\n".join(self.out.strip().split("\n")[-15:])
        return "umbra-run %s -> rc=%d\nstderr: %s\nlast output:\n%s" % (
            " ".join(self.args), self.rc, self.err.strip(), tail)


def umbra_run(*args, timeout=60):
    """Run tools/umbra-run with a QEMU timeout, and a harness timeout on top."""
    argv = [RUNNER, "--timeout", str(timeout)] + list(args)
    p = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=timeout + 30,
                       stdin=subprocess.DEVNULL)
    return Run(list(args), p.returncode, p.stdout, p.stderr)


def expect(cond, run, what):
    if not cond:
        raise AssertionError("%s\n%s" % (what, run.describe()))


def comparable(lines):
    """Lines a guest prints that must match natively; " measure " lines carry
    figures (instret, cycles) that legitimately differ under a hypervisor."""
    return [l for l in lines if " measure " not in l]


def expect_same_guest_output(native, virt, prefix):
    a, b = comparable(native.lines(prefix)), comparable(virt.lines(prefix))
    if not a:
        raise AssertionError("native run printed no %r lines\n%s" % (prefix, native.describe()))
    if a != b:
        diff = [("native: %s\numbra:  %s" % (x, y)) for x, y in zip(a, b) if x != y][:5]
        raise AssertionError("guest output differs (%d vs %d lines)\n%s\n%s" % (
            len(a), len(b), "\n".join(diff), virt.describe()))


def csv_rows(path):
    import csv
    with open(path) as f:
        return list(csv.DictReader(f))
