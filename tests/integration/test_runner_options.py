"""test_runner_options.py — tools/umbra-run without booting anything.

Checks option validation (exit status 2 and the message), the host RAM
layout and config text that --dry-run prints, ELF flattening, and the run
path (output filtering, --stats, exit-status messages, --timeout) against a
stand-in QEMU script.  Those need no build: every input is a small temp file.

The last tests check that the runner never leaves QEMU behind: stopped by
SIGTERM, SIGINT or SIGHUP, at its timeout, or even SIGKILLed, with stdin a
file or a terminal.  Most boot build/guests/tinyos.bin on real QEMU (make).

The test harness imports this module and calls each function in TESTS; a
failure raises AssertionError.
"""

import contextlib
import glob
import importlib.machinery
import importlib.util
import os
import pty
import select
import shlex
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNNER = os.path.join(REPO, "tools", "umbra-run")
MIB = 1 << 20


# ---- helpers ----------------------------------------------------------------

def run_runner(args, env=None, timeout=60):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, RUNNER, *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout, env=full_env)


def expect_usage_error(args, message):
    result = run_runner(args)
    assert result.returncode == 2, f"{args}: status {result.returncode}, stderr {result.stderr!r}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"{args}: want one line on stderr, got {result.stderr!r}"
    assert lines[0].startswith("umbra-run: error: "), lines[0]
    assert message in lines[0], f"{args}: want {message!r} in {lines[0]!r}"
    assert result.stdout == "", result.stdout


class Files:
    """A temp directory to write small input files into."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory(prefix="test-umbra-run-")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.dir.cleanup()

    def write(self, name, data):
        path = os.path.join(self.dir.name, name)
        with open(path, "wb") as f:
            f.write(data)
        return path


def make_elf(entry=0x80200000, segments=((0x80200000, b"\x13\x00\x00\x00" * 4, 16),),
             machine=243, elf_class=2):
    """A minimal little-endian ELF executable with PT_LOAD segments
    given as (paddr, file bytes, memsz)."""
    data_start = 64 + 56 * len(segments)
    headers, body = b"", b""
    for paddr, data, memsz in segments:
        headers += struct.pack("<IIQQQQQQ", 1, 7, data_start + len(body), paddr, paddr,
                               len(data), memsz, 0x1000)
        body += data
    ident = b"\x7fELF" + bytes([elf_class, 1, 1]) + bytes(9)
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, entry, 64, 0, 0, 64, 56,
                               len(segments), 64, 0, 0)
    return ehdr + headers + body


def dry_run(args):
    """Run with --dry-run; return (QEMU argv, config text)."""
    result = run_runner(args + ["--dry-run"])
    assert result.returncode == 0, f"{args}: status {result.returncode}: {result.stderr}"
    lines = result.stdout.splitlines()
    assert lines[0] == "# QEMU command line", lines[:2]
    argv = shlex.split(lines[1])
    config = ""
    for i, line in enumerate(lines):
        if line.startswith("# config text"):
            config = "\n".join(lines[i + 1:]) + "\n"
    return argv, config


def option_values(argv, option):
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == option]


def loaders(argv):
    """{address: file} from the -device loader,... arguments."""
    found = {}
    for value in option_values(argv, "-device"):
        fields = dict(field.split("=", 1) for field in value.split(",")[1:])
        assert value.startswith("loader,") and fields["force-raw"] == "on", value
        found[int(fields["addr"], 16)] = fields["file"]
    return found


def load_runner_module():
    loader = importlib.machinery.SourceFileLoader("umbra_run", RUNNER)
    spec = importlib.util.spec_from_loader("umbra_run", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


# ---- option validation --------------------------------------------------------

def test_unknown_option():
    with Files() as f:
        k = f.write("k.bin", b"\x6f\x00\x00\x00")
        expect_usage_error(["--bogus"], "unknown option '--bogus'")
        expect_usage_error(["--kernel", k, "--bogus=1"], "unknown option '--bogus'")
        expect_usage_error(["--kernel", k, "stray"], "unexpected argument 'stray'")
        expect_usage_error(["--kernel"], "--kernel needs a value")
        expect_usage_error(["--kernel", k, "--kernel", k], "--kernel given twice")
        expect_usage_error(["--kernel", k, "--native=yes"], "--native takes no value")


def test_help():
    result = run_runner(["--help"])
    assert result.returncode == 0 and "--kernel FILE" in result.stdout and "--vm" in result.stdout


def test_missing_or_bad_kernel_file():
    with Files() as f:
        k = f.write("k.bin", b"\x6f\x00\x00\x00")
        empty = f.write("empty.bin", b"")
        expect_usage_error([], "VM vm0 has no --kernel")
        expect_usage_error(["--mem", "64M"], "VM vm0 has no --kernel")
        expect_usage_error(["--kernel", k, "--vm", "--mem", "64M"], "VM vm1 has no --kernel")
        expect_usage_error(["--kernel", os.path.join(f.dir.name, "nope.bin")],
                           "cannot read kernel")
        expect_usage_error(["--kernel", empty], f"kernel '{empty}' is empty")
        expect_usage_error(["--kernel", k, "--initrd", empty], "is empty")


def test_image_too_big():
    with Files() as f:
        # --mem 8M leaves 4 MiB between the kernel offset and the DTB slot.
        fits = f.write("fits.bin", bytes(4 * MIB))
        big = f.write("big.bin", bytes(4 * MIB + 1))
        half = f.write("half.bin", bytes(2 * MIB))
        half_plus = f.write("half_plus.bin", bytes(2 * MIB + 1))
        dry_run(["--kernel", fits, "--mem", "8M"])
        dry_run(["--kernel", half, "--initrd", half, "--mem", "8M"])
        expect_usage_error(["--kernel", big, "--mem", "8M"],
                           "kernel need 4194305 bytes but only 4194304 fit")
        expect_usage_error(["--kernel", half, "--initrd", half_plus, "--mem", "8M"],
                           "kernel and initrd need 4194305 bytes")
        # An ELF's .bss counts even though the flattened file leaves it out.
        bss = f.write("bss.elf", make_elf(segments=((0x80200000, b"\x01" * 8, 4 * MIB + 8),)))
        expect_usage_error(["--kernel", bss, "--mem", "8M"], "need 4194312 bytes")


def test_bad_mem_sizes():
    with Files() as f:
        k = f.write("k.bin", b"\x6f\x00\x00\x00")
        expect_usage_error(["--kernel", k, "--mem", "64Q"], "bad size '64Q' for --mem")
        expect_usage_error(["--kernel", k, "--mem", ""], "bad size")
        expect_usage_error(["--kernel", k, "--mem", "0x"], "bad size")
        expect_usage_error(["--kernel", k, "--mem", "-64M"], "bad size")
        expect_usage_error(["--kernel", k, "--mem", "3M"], "not a multiple of 2 MiB")
        expect_usage_error(["--kernel", k, "--mem", "6291457"], "not a multiple of 2 MiB")
        expect_usage_error(["--kernel", k, "--mem", "2M"], "below the minimum of 8 MiB")
        expect_usage_error(["--kernel", k, "--mem", "0"], "below the minimum")
        for text, value in (("0x4000000", 0x4000000), ("1G", 1 << 30), ("134217728", 128 * MIB),
                            ("10MiB", 10 * MIB), ("8192k", 8 * MIB)):
            _, config = dry_run(["--kernel", k, "--mem", text])
            assert f"mem={value:#x}\n" in config, (text, config)
        _, config = dry_run(["--kernel", k])
        assert "mem=0x8000000\n" in config, config     # default 128 MiB


def test_cpus_names_modes():
    with Files() as f:
        k = f.write("k.bin", b"\x6f\x00\x00\x00")
        expect_usage_error(["--kernel", k, "--cpus", "0"], "--cpus 0: want a whole number from 1 to 8")
        expect_usage_error(["--kernel", k, "--cpus", "9"], "--cpus 9")
        expect_usage_error(["--kernel", k, "--cpus", "two"], "--cpus two")
        expect_usage_error(["--kernel", k, "--cpus", "5", "--vm", "--kernel", k, "--cpus", "4"],
                           "too many vCPUs: 9 in all, at most 8")
        dry_run(["--kernel", k, "--cpus", "4", "--vm", "--kernel", k, "--cpus", "4"])
        expect_usage_error(["--kernel", k, "--name", "a", "--vm", "--kernel", k, "--name", "a"],
                           "two VMs are named 'a'")
        # The default name of the second VM is vm1.
        expect_usage_error(["--kernel", k, "--name", "vm1", "--vm", "--kernel", k],
                           "two VMs are named 'vm1'")
        expect_usage_error(["--kernel", k, "--name", "bad name"], "bad VM name 'bad name'")
        expect_usage_error(["--kernel", k, "--name", "x" * 16], "bad VM name")
        expect_usage_error(["--kernel", k, "--mode", "ept"], "unknown mode 'ept'")
        expect_usage_error(["--kernel", k, "--vm", "--kernel", k, "--mode", "ssp", "--cpus", "9"],
                           "--cpus 9")
        _, config = dry_run(["--kernel", k, "--mode", "tsp", "--cpus", "2"])
        assert "mode=tsp\n" in config and "cpus=2\n" in config, config
        expect_usage_error(["--kernel", k, "--mode", "ssp", "--sptbuf", "65"], "--sptbuf 65")
        expect_usage_error(["--kernel", k, "--mode", "ssp", "--sptbuf", "-1"], "--sptbuf -1")
        expect_usage_error(["--kernel", k, "--mode", "tsp", "--shadow-mem", "4K"], "--shadow-mem 4K")
        _, config = dry_run(["--kernel", k, "--mode", "ssp", "--sptbuf", "0", "--shadow-mem", "1M"])
        assert "mode=ssp\n" in config and "sptbuf=0\n" in config, config
        assert "shadow_pool=0x100000\n" in config, config
        expect_usage_error(["--kernel", k, "--append", "x" * 1024], "--append is 1024 chars")
        expect_usage_error(["--kernel", k, "--append", "a\nb"], "--append must be")
        expect_usage_error(["--kernel", k, "--trace", "io"], "unknown trace flag 'io'")
        expect_usage_error(["--kernel", k, "--timeout", "soon"], "--timeout soon")
        expect_usage_error(["--kernel", k, "--timeout", "0"], "--timeout 0")


def test_native_with_two_vms():
    with Files() as f:
        k = f.write("k.bin", b"\x6f\x00\x00\x00")
        expect_usage_error(["--native", "--kernel", k, "--vm", "--kernel", k],
                           "--native runs exactly one VM, not 2")


def test_elf_checks():
    with Files() as f:
        wrong_entry = f.write("entry.elf", make_elf(entry=0x80200100))
        below = f.write("below.elf", make_elf(segments=((0x80000000, b"\x01" * 8, 8),)))
        elf32 = f.write("elf32.elf", make_elf(elf_class=1))
        x86 = f.write("x86.elf", make_elf(machine=62))
        nodata = f.write("nodata.elf", make_elf(segments=((0x80200000, b"", 64),)))
        expect_usage_error(["--kernel", wrong_entry],
                           "ELF entry point 0x80200100 is not 0x80200000")
        expect_usage_error(["--kernel", below], "ELF segment at 0x80000000 lies below")
        expect_usage_error(["--kernel", elf32], "not a little-endian ELF64")
        expect_usage_error(["--kernel", x86], "for machine 62, not RISC-V")
        expect_usage_error(["--kernel", nodata], "no loadable data")
        # Natively too: the guest contract is the same.
        expect_usage_error(["--native", "--kernel", wrong_entry], "ELF entry point")


def test_elf_flattening():
    """Two segments with a gap and a .bss: the flat image holds the file
    bytes at their offsets from 0x80200000, zeros in the gap, no .bss."""
    runner = load_runner_module()
    with Files() as f:
        text, data = b"\x11" * 0x30, b"\x22" * 8
        path = f.write("k.elf", make_elf(segments=((0x80200000, text, 0x30),
                                                    (0x80201000, data, 0x3000))))
        image = runner.load_kernel(path)
        flat = runner.flatten_segments(image)
        assert image.size == 0x1008 and len(flat) == 0x1008, image.size
        assert image.footprint == 0x4000, image.footprint
        assert flat[:0x30] == text and flat[0x1000:] == data
        assert flat[0x30:0x1000] == bytes(0x1000 - 0x30)
        # The dry run stages the flattened copy, not the ELF file.
        argv, config = dry_run(["--kernel", path, "--mem", "8M"])
        assert "kernel=0x84801000,0x1008\n" in config, config
        staged = loaders(argv)[0x84801000]
        assert staged != path and staged.endswith("vm0-kernel.bin"), staged


# ---- --dry-run layout ------------------------------------------------------------

def test_dry_run_two_vms():
    with Files() as f:
        k0 = f.write("k0.bin", bytes(0x3a20))
        k1 = f.write("k1.bin", bytes(0x1000))
        i1 = f.write("i1.bin", bytes(0x2500))
        argv, config = dry_run(["--kernel", k0, "--mem", "64M", "--append", "console=hvc0 workload=ctxsw iters=10",
                                "--trace", "mm", "--icount",
                                "--vm", "--name", "second", "--kernel", k1, "--initrd", i1,
                                "--mem", "0x2000000", "--cpus", "2"])
        # 64 MiB for Umbra + 96 MiB of VM RAM: staging at 0x8a000000; staging
        # needs 0x8500 bytes -> 2 MiB, plus 2 MiB kept for the device tree.
        assert option_values(argv, "-smp") == ["3"], argv
        assert option_values(argv, "-m") == ["164M"], argv
        assert option_values(argv, "-append") == ["umbra.config=0x8a000000"], argv
        assert option_values(argv, "-kernel")[0].endswith("umbra.elf"), argv
        assert option_values(argv, "-bios") == [
            "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"]
        assert option_values(argv, "-icount") == ["shift=0,sleep=off,align=off"]
        assert option_values(argv, "-rtc") == ["clock=vm"]
        staged = loaders(argv)
        assert sorted(staged) == [0x8a000000, 0x8a001000, 0x8a005000, 0x8a006000], staged
        assert staged[0x8a001000] == k0 and staged[0x8a005000] == k1 and staged[0x8a006000] == i1
        assert staged[0x8a000000].endswith("config.txt")
        want = ("# umbra config v1\n"
                "staging=0x8a000000\n"
                "trace=mm\n"
                "vm=vm0\nmode=hap\nmem=0x4000000\ncpus=1\n"
                "kernel=0x8a001000,0x3a20\n"
                "append=console=hvc0 workload=ctxsw iters=10\n"
                "vm=second\nmode=hap\nmem=0x2000000\ncpus=2\n"
                "kernel=0x8a005000,0x1000\n"
                "initrd=0x8a006000,0x2500\n")
        assert config == want, config


def test_dry_run_staging_rounding_and_big_config():
    """Eight VMs with long command lines: the config text outgrows its first
    4 KiB, so the images move up; staging larger than 2 MiB rounds to 4."""
    with Files() as f:
        k = f.write("k.bin", bytes(0x1000))
        big = f.write("big.bin", bytes(2 * MIB + 0x10))
        args = ["--kernel", big, "--mem", "8M", "--append", "a" * 1000]
        for _ in range(7):
            args += ["--vm", "--kernel", k, "--mem", "8M", "--append", "b" * 1000]
        argv, config = dry_run(args)
        staging = 0x80000000 + 64 * MIB + 64 * MIB
        assert f"staging={staging:#x}\n" in config, config
        assert 8 * 1000 < len(config) < 3 * 4096
        first = staging + 0x3000
        assert f"vm=vm0\nmode=hap\nmem=0x800000\ncpus=1\nkernel={first:#x},0x200010\n" in config
        staged = sorted(loaders(argv))
        assert staged[:3] == [staging, first, first + 0x201000], [hex(a) for a in staged]
        # Staging holds 0x3000 + 0x200010 + 7 * 0x1000 bytes -> 4 MiB.
        assert option_values(argv, "-m") == [f"{64 + 64 + 4 + 2}M"], argv
        assert option_values(argv, "-smp") == ["8"]


def test_dry_run_native_and_debug_options():
    with Files() as f:
        k = f.write("k.elf", make_elf())
        i = f.write("i.bin", b"initrd")
        log = os.path.join(f.dir.name, "qemu.log")
        argv, config = dry_run(["--native", "--kernel", k, "--initrd", i, "--append", "quiet x=1",
                                "--mem", "96M", "--cpus", "2", "--mode", "hap",
                                "--qemu", "/opt/q/qemu", "--qemu-log", log, "--gdb"])
        assert config == "", config
        assert argv[0] == "/opt/q/qemu"
        # The original ELF, not a flattened copy.
        assert option_values(argv, "-kernel") == [k]
        assert option_values(argv, "-initrd") == [i]
        assert option_values(argv, "-append") == ["quiet x=1"]
        assert option_values(argv, "-m") == ["96M"] and option_values(argv, "-smp") == ["2"]
        assert option_values(argv, "-d") == ["int,guest_errors"]
        assert option_values(argv, "-D") == [log]
        assert "-s" in argv and "-S" in argv and "-device" not in argv
        assert "-icount" not in argv
        assert option_values(argv, "-cpu") == ["rv64"]


def test_satp_max():
    with Files() as f:
        k = f.write("k.elf", make_elf())
        for widest, cpu in (("sv39", "rv64,sv57=off,sv48=off"), ("sv48", "rv64,sv57=off"), ("sv57", "rv64")):
            for native in ([], ["--native"]):
                argv, _ = dry_run(native + ["--kernel", k, "--satp-max", widest])
                assert option_values(argv, "-cpu") == [cpu], (widest, argv)
        expect_usage_error(["--kernel", k, "--satp-max", "sv32"], "--satp-max sv32: want sv39, sv48 or sv57")


def test_commas_in_paths_are_escaped():
    with Files() as f:
        k = f.write("a,b.bin", bytes(16))
        argv, _ = dry_run(["--kernel", k])
        kernel_loader = [v for v in option_values(argv, "-device") if "a,,b.bin" in v]
        assert len(kernel_loader) == 1, argv


# ---- running against a stand-in QEMU -------------------------------------------------

FAKE_QEMU = r'''
import os, signal, subprocess, sys, time
args = sys.argv[1:]
# The config file must exist while "QEMU" runs and end with its NUL.
staging = args[args.index("-append") + 1].split("=")[1]
config = [a for a in args if a.startswith("loader,file=") and a.endswith("config.txt,addr=%s,force-raw=on" % staging)]
path = config[0][len("loader,file="):].split(",addr=")[0]
data = open(path, "rb").read()
print("fake: config " + ("ok" if data.endswith(b"\0") and b"vm=vm0" in data else "BAD"), flush=True)
action = os.environ["FAKE_QEMU"]
if action == "sleep":
    time.sleep(30)
elif action == "stubborn":
    # Deaf to SIGTERM, and with a child of its own that is deaf to it too.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(1)"])
    with open(os.environ["FAKE_PIDS"] + ".tmp", "w") as f:
        f.write("%d %d\n" % (os.getpid(), child.pid))
    os.rename(os.environ["FAKE_PIDS"] + ".tmp", os.environ["FAKE_PIDS"])
    while True:
        time.sleep(1)
elif action == "prompt":
    sys.stdout.write("@c")        # could still become a CSV line
    sys.stdout.flush()
    time.sleep(0.2)
    sys.stdout.write("ould not\nprompt> ")
    sys.stdout.flush()
    for _ in range(100):          # wait (10 s at most) for the reader to see the prompt
        if os.path.exists(os.environ["FAKE_FLAG"]):
            break
        time.sleep(0.1)
    sys.stdout.write("done\n")
else:
    sys.stdout.write("hello from the guest\n")
    sys.stdout.write("@csv-header vm,mode,cpus\r\n@csv vm0,hap,1\r\n")
    sys.stdout.write("[vm1] @csv not a row\n@cs is not csv\n")
    sys.stdout.write("@csv-header vm,mode,cpus\n@csv vm1,hap,2\nbye")
sys.exit(int(os.environ.get("FAKE_STATUS", "0")))
'''


def fake_setup(f):
    qemu = f.write("fake-qemu", f"#!{sys.executable}\n{FAKE_QEMU}".encode())
    os.chmod(qemu, 0o755)
    umbra = f.write("umbra.elf", b"not really")
    kernel = f.write("k.bin", bytes(64))
    return ["--qemu", qemu, "--umbra", umbra, "--kernel", kernel]


def test_run_filters_output_and_writes_stats():
    with Files() as f:
        stats = os.path.join(f.dir.name, "out.csv")
        result = run_runner(fake_setup(f) + ["--vm", "--kernel", os.path.join(f.dir.name, "k.bin"),
                                             "--stats", stats], env={"FAKE_QEMU": "report"})
        assert result.returncode == 0, result.stderr
        assert result.stderr == "", result.stderr
        assert result.stdout == ("fake: config ok\nhello from the guest\n"
                                 "[vm1] @csv not a row\n@cs is not csv\nbye"), repr(result.stdout)
        with open(stats) as s:
            assert s.read() == "vm,mode,cpus\nvm0,hap,1\nvm1,hap,2\n"


def test_run_exit_status_messages():
    with Files() as f:
        args = fake_setup(f)
        for status, message in ((1, "a VM ended in failure (SRST with a system-failure reason, or a trap Umbra does not model)"),
                                (3, "Umbra panicked"), (4, "Umbra rejected the configuration"),
                                (7, "QEMU exited with status 7")):
            result = run_runner(args, env={"FAKE_QEMU": "report", "FAKE_STATUS": str(status)})
            assert result.returncode == status, (status, result.returncode)
            assert result.stderr == f"umbra-run: {message}\n", result.stderr


def test_run_timeout():
    with Files() as f:
        stats = os.path.join(f.dir.name, "none.csv")
        start = time.monotonic()
        result = run_runner(fake_setup(f) + ["--timeout", "1", "--stats", stats],
                            env={"FAKE_QEMU": "sleep"})
        elapsed = time.monotonic() - start
        assert result.returncode == 124, (result.returncode, result.stderr)
        assert result.stderr.splitlines()[-1] == "umbra-run: timeout after 1 s", result.stderr
        assert "no statistics were reported" in result.stderr
        assert not os.path.exists(stats)
        assert result.stdout == "fake: config ok\n"
        assert elapsed < 10, elapsed


def test_run_echoes_partial_lines():
    """A prompt without a newline reaches stdout before the next output."""
    with Files() as f:
        flag = os.path.join(f.dir.name, "seen")
        env = dict(os.environ, FAKE_QEMU="prompt", FAKE_FLAG=flag)
        proc = subprocess.Popen([sys.executable, RUNNER] + fake_setup(f), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        seen = b""
        deadline = time.monotonic() + 20
        while not seen.endswith(b"prompt> ") and time.monotonic() < deadline:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
        open(flag, "w").close()
        rest, errors = proc.communicate(timeout=20)
        assert seen == b"fake: config ok\n@could not\nprompt> ", seen
        assert rest == b"done\n", rest
        assert proc.returncode == 0, errors



# ---- the runner never leaves QEMU behind -----------------------------------------------

TINYOS = os.path.join(REPO, "build", "guests", "tinyos.bin")
# A workload that runs for hours: QEMU is certainly still busy when signalled.
LONG_RUN = ["--icount", "--kernel", TINYOS, "--append", "workload=fork iters=10000000"]
STARTED = b"tinyos: start workload=fork"
STOP_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGTERM)
# Bounds are generous (a loaded machine boots slowly); the waits poll.
BOOT_SECONDS = 180
END_SECONDS = 30


def poll(condition, seconds, what):
    """condition()'s first true value, checked every 50 ms for at most seconds."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds} s for {what}")
        time.sleep(0.05)


def proc_stat(pid):
    """(state, pgid, start time) of process pid, or None if there is none."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[2]), int(fields[19])


class Process:
    """A process seen once, told apart from a later one that reuses its pid."""

    def __init__(self, pid):
        self.pid = pid
        stat = proc_stat(pid)
        assert stat, f"process {pid} is gone already"
        self.pgid, self.start = stat[1], stat[2]

    def exists(self):
        """There, zombie or not."""
        stat = proc_stat(self.pid)
        return stat is not None and stat[2] == self.start

    def running(self):
        stat = proc_stat(self.pid)
        return stat is not None and stat[2] == self.start and stat[0] not in "ZX"

    def kill(self):
        if self.running():
            os.kill(self.pid, signal.SIGKILL)


def group_members(pgid):
    """Live (non-zombie) processes in process group pgid."""
    found = []
    for path in glob.glob("/proc/[0-9]*"):
        pid = int(os.path.basename(path))
        stat = proc_stat(pid)
        if stat and stat[1] == pgid and stat[0] not in "ZX":
            found.append(pid)
    return found


def children(pid):
    found = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(path) as f:
                found += [int(child) for child in f.read().split()]
        except OSError:
            pass
    return found


def qemu_child(pid):
    for child in children(pid):
        try:
            with open(f"/proc/{child}/comm") as f:
                if f.read().startswith("qemu-system"):
                    return Process(child)
        except (OSError, AssertionError):
            pass
    return None


# Runs the runner with the stop signals at their defaults: a runner started
# with one of them ignored (a background job of a non-interactive shell
# ignores SIGINT; nohup, SIGHUP) keeps it ignored, as QEMU would.
LAUNCHER = ("import os, signal, sys\n"
            "for s in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):\n"
            "    signal.signal(s, signal.SIG_DFL)\n"
            "os.execv(sys.argv[1], sys.argv[1:])\n")


class LiveRunner:
    """umbra-run in the background, stdin /dev/null, its output in files."""

    def __init__(self, args, env=None):
        self.dir = tempfile.TemporaryDirectory(prefix="test-umbra-run-")
        self.out_path = os.path.join(self.dir.name, "stdout")
        self.err_path = os.path.join(self.dir.name, "stderr")
        self.qemu = None
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, sys.executable, RUNNER, *args],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         env=dict(os.environ, **(env or {})))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # Whatever happened, nothing of this test keeps running.
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.qemu is not None:
            self.qemu.kill()
        self.dir.cleanup()

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def stderr(self):
        return self.read(self.err_path).decode("utf-8", "replace")

    def describe(self):
        out = self.read(self.out_path).decode("utf-8", "replace")
        return f"stderr: {self.stderr()!r}\nlast output: {out[-600:]!r}"

    def wait_for(self, text, source="stdout", seconds=BOOT_SECONDS):
        path = self.out_path if source == "stdout" else self.err_path

        def seen():
            if text in self.read(path):
                return True
            if self.proc.poll() is not None:
                raise AssertionError(f"the runner ended ({self.proc.returncode}) before {text!r}\n"
                                     + self.describe())
            return False
        poll(seen, seconds, f"{text!r} from the runner\n" + self.describe())

    def find_qemu(self):
        """The runner's QEMU, or None if the runner ended first."""
        def found():
            return qemu_child(self.proc.pid) or self.proc.poll() is not None
        qemu = poll(found, BOOT_SECONDS, "QEMU to start")
        self.qemu = qemu if isinstance(qemu, Process) else None
        return self.qemu

    def ended(self, seconds=END_SECONDS):
        """The runner's exit status, and how long it took from now."""
        start = time.monotonic()
        try:
            status = self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the runner still runs {seconds} s on\n" + self.describe())
        return status, time.monotonic() - start


def expect_no_qemu_left(run, group=True):
    """The runner's QEMU is reaped (the runner waited for it) and, when QEMU
    had a process group of its own, no process is left in it."""
    qemu = run.qemu
    assert not qemu.exists(), f"QEMU {qemu.pid} is still there after the runner ended\n" + run.describe()
    if group:
        assert qemu.pgid == qemu.pid, f"QEMU {qemu.pid} is not the leader of its process group ({qemu.pgid})"
        left = group_members(qemu.pgid)
        assert not left, f"processes {left} of QEMU's group are left"


def stop_test(signo, native=False):
    name = signal.Signals(signo).name

    def test():
        with LiveRunner((["--native"] if native else []) + ["--timeout", "600"] + LONG_RUN) as run:
            run.wait_for(STARTED)
            qemu = run.find_qemu()
            assert qemu, "the runner ended\n" + run.describe()
            assert qemu.pgid == qemu.pid, "stdin is not a tty: QEMU should lead its own process group"
            run.proc.send_signal(signo)
            status, took = run.ended()
            assert status == 128 + signo, f"{name}: exit status {status}, want {128 + signo}\n" + run.describe()
            last = run.stderr().splitlines()[-1]
            assert last == f"umbra-run: stopped by {name}; QEMU ended", run.describe()
            expect_no_qemu_left(run)
            return f"exit {status} {took:.1f} s after {name}"
    return test


@contextlib.contextmanager
def stubborn_qemu(timeout):
    """The runner on a stand-in QEMU deaf to SIGTERM, with a child deaf to it
    too (they share QEMU's process group); yields (run, child) once both are
    up, and kills the child whatever happened."""
    with Files() as f:
        pids = os.path.join(f.dir.name, "pids")
        with LiveRunner(fake_setup(f) + ["--timeout", str(timeout)], env={"FAKE_QEMU": "stubborn",
                                                                          "FAKE_PIDS": pids}) as run:
            poll(lambda: os.path.exists(pids), 60, "the stand-in QEMU to start")
            qemu_pid, child_pid = map(int, run.read(pids).split())
            run.qemu, child = Process(qemu_pid), Process(child_pid)
            try:
                yield run, child
            finally:
                child.kill()


def test_stop_escalates_to_sigkill():
    """A QEMU deaf to SIGTERM, with a child deaf to it too: SIGKILL follows
    after the grace period, for both."""
    with stubborn_qemu(600) as (run, child):
        run.proc.terminate()
        status, took = run.ended()
        assert status == 143, f"exit status {status}\n" + run.describe()
        assert run.stderr() == "umbra-run: stopped by SIGTERM; QEMU ended\n", run.describe()
        assert took >= 1.5, f"ended after {took:.1f} s: no grace period before SIGKILL?"
        assert not child.running(), "QEMU's child survived"
        expect_no_qemu_left(run)
        return f"SIGKILL after {took:.1f} s"


def test_timeout_escalates_to_sigkill():
    """--timeout: the same SIGTERM, grace, SIGKILL, and still exit 124."""
    with stubborn_qemu(1) as (run, child):
        status, _ = run.ended(60)
        assert status == 124, f"exit status {status}\n" + run.describe()
        assert run.stderr().splitlines()[-1] == "umbra-run: timeout after 1 s", run.describe()
        assert not child.running(), "QEMU's child survived"
        expect_no_qemu_left(run)


def test_timeout_leaves_no_qemu():
    with LiveRunner(["--timeout", "5"] + LONG_RUN) as run:
        qemu = run.find_qemu()
        assert qemu, "the runner ended\n" + run.describe()
        status, _ = run.ended(60)
        assert status == 124, f"exit status {status}\n" + run.describe()
        assert run.stderr().splitlines()[-1] == "umbra-run: timeout after 5 s", run.describe()
        assert STARTED in run.read(run.out_path), "the guest never got going\n" + run.describe()
        expect_no_qemu_left(run)
        assert qemu.pgid == qemu.pid


def test_stop_while_waiting_for_gdb():
    """--gdb has no timeout: a signal is what ends it."""
    with LiveRunner(["--gdb", "--kernel", TINYOS]) as run:
        run.wait_for(b"QEMU is waiting for gdb", "stderr", 60)
        if not run.find_qemu():
            if "in use" in run.stderr():        # someone else's gdb stub has the port
                return "not run: port 1234 is taken"
            raise AssertionError("QEMU did not start\n" + run.describe())
        run.proc.terminate()
        status, _ = run.ended()
        assert status == 143, f"exit status {status}\n" + run.describe()
        assert run.stderr().splitlines()[-1] == "umbra-run: stopped by SIGTERM; QEMU ended"
        expect_no_qemu_left(run)


def test_sigkilled_runner_takes_qemu_along():
    """SIGKILL cannot be caught: the kernel sends QEMU SIGTERM (PR_SET_PDEATHSIG)."""
    with LiveRunner(["--timeout", "600"] + LONG_RUN) as run:
        run.wait_for(STARTED)
        qemu = run.find_qemu()
        assert qemu, "the runner ended\n" + run.describe()
        run.proc.kill()
        run.ended()
        poll(lambda: not qemu.running(), END_SECONDS, f"QEMU {qemu.pid} to end after its runner was SIGKILLed")
        poll(lambda: not group_members(qemu.pgid), END_SECONDS, "QEMU's process group to empty")


def test_stop_on_a_terminal():
    """stdin a terminal, as from a shell: a pty that is the runner's
    controlling terminal, the runner in its foreground group.  QEMU shares
    that group, so it can read the terminal (the monitor answers; a QEMU in a
    background group would be stopped by SIGTTIN).  A QEMU that cannot act
    on SIGTERM (stopped here) is SIGKILLed after the grace period, and the
    runner puts the terminal back out of the raw mode QEMU left it in."""
    pid, master = pty.fork()
    if pid == 0:                    # the child: exec the runner, whatever happens
        try:
            for signo in STOP_SIGNALS:
                signal.signal(signo, signal.SIG_DFL)
            os.execv(sys.executable, [sys.executable, RUNNER, "--monitor", "--timeout", "600"] + LONG_RUN)
        finally:
            os._exit(127)
    seen = bytearray()
    qemu = None
    status = None

    def read_until(text, seconds):
        def found():
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    seen.extend(os.read(master, 65536))
                except OSError:         # EIO: every slave is closed
                    pass
            return text in seen
        poll(found, seconds, f"{text!r} on the terminal; it shows {bytes(seen[-600:])!r}")

    def reaped():
        nonlocal status
        done, wait_status = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(wait_status)
        return done

    def modes():
        lflag = termios.tcgetattr(master)[3]
        return bool(lflag & termios.ECHO), bool(lflag & termios.ICANON)

    try:
        read_until(b"umbra> ", BOOT_SECONDS)
        assert modes() == (False, False), "QEMU did not put the terminal in raw mode?"
        qemu = poll(lambda: qemu_child(pid), 30, "QEMU")
        assert qemu.pgid == os.getpgid(pid), "stdin is a tty: QEMU should be in the runner's group"
        del seen[:]
        os.write(master, b"vms\r")
        read_until(b"umbra> ", 60)
        assert b"not started" in seen, bytes(seen)
        os.kill(qemu.pid, signal.SIGSTOP)
        start = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        read_until(b"umbra-run: stopped by SIGTERM; QEMU ended", END_SECONDS)
        poll(reaped, END_SECONDS, "the runner to exit")
        took = time.monotonic() - start
        restored = modes()
    finally:
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        if qemu is not None:
            qemu.kill()
        os.close(master)
    assert status == 143, f"exit status {status}"
    assert restored == (True, True), f"the terminal stays raw: (echo, icanon) = {restored}"
    assert took >= 1.5, f"ended after {took:.1f} s: no grace period before SIGKILL?"
    assert not qemu.exists(), "QEMU is still there"
    return f"terminal restored, SIGKILL after {took:.1f} s"


TESTS = [
    ("unknown_option", test_unknown_option),
    ("help", test_help),
    ("missing_or_bad_kernel_file", test_missing_or_bad_kernel_file),
    ("image_too_big", test_image_too_big),
    ("bad_mem_sizes", test_bad_mem_sizes),
    ("cpus_names_modes", test_cpus_names_modes),
    ("native_with_two_vms", test_native_with_two_vms),
    ("elf_checks", test_elf_checks),
    ("elf_flattening", test_elf_flattening),
    ("dry_run_two_vms", test_dry_run_two_vms),
    ("dry_run_staging_rounding_and_big_config", test_dry_run_staging_rounding_and_big_config),
    ("dry_run_native_and_debug_options", test_dry_run_native_and_debug_options),
    ("satp_max", test_satp_max),
    ("commas_in_paths_are_escaped", test_commas_in_paths_are_escaped),
    ("run_filters_output_and_writes_stats", test_run_filters_output_and_writes_stats),
    ("run_exit_status_messages", test_run_exit_status_messages),
    ("run_timeout", test_run_timeout),
    ("run_echoes_partial_lines", test_run_echoes_partial_lines),
] + [(f"stop_by_{signal.Signals(signo).name.lower()}_leaves_no_qemu", stop_test(signo))
     for signo in STOP_SIGNALS] + [
    ("stop_native_run_leaves_no_qemu", stop_test(signal.SIGTERM, native=True)),
    ("stop_escalates_to_sigkill", test_stop_escalates_to_sigkill),
    ("timeout_escalates_to_sigkill", test_timeout_escalates_to_sigkill),
    ("timeout_leaves_no_qemu", test_timeout_leaves_no_qemu),
    ("stop_while_waiting_for_gdb", test_stop_while_waiting_for_gdb),
    ("sigkilled_runner_takes_qemu_along", test_sigkilled_runner_takes_qemu_along),
    ("stop_on_a_terminal", test_stop_on_a_terminal),
]
