#!/usr/bin/env python3
"""mkinitramfs.py INIT OUT — write the Linux guest's initramfs.

An uncompressed cpio archive in the "newc" format the kernel unpacks (see the
kernel's Documentation/driver-api/early-userspace/buffer-format.rst): INIT as
/init, /dev/console so the kernel can give /init its console, and the empty
mount points /proc and /sys.  Written here rather than with cpio(1) because
cpio cannot make a device node without root.  Every timestamp and owner is
zero, so the archive depends only on INIT.
"""
import stat
import sys

NEWC_MAGIC = b"070701"
TTY_MAJOR, CONSOLE_MINOR = 5, 1


def newc_entry(inode, name, mode, data=b"", rdev=(0, 0), nlink=1):
    """One archive member: a 110-byte header of hex fields, the NUL-ended
    name padded to 4 bytes, then the data padded to 4 bytes."""
    encoded = name.encode() + b"\0"
    fields = (inode, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
    header = NEWC_MAGIC + b"".join(b"%08x" % value for value in fields)
    out = header + encoded
    out += b"\0" * (-len(out) % 4)
    out += data
    out += b"\0" * (-len(out) % 4)
    return out


def build_archive(init_data):
    members = [
        ("dev", stat.S_IFDIR | 0o755, b"", (0, 0), 2),
        ("dev/console", stat.S_IFCHR | 0o600, b"", (TTY_MAJOR, CONSOLE_MINOR), 1),
        ("proc", stat.S_IFDIR | 0o755, b"", (0, 0), 2),
        ("sys", stat.S_IFDIR | 0o755, b"", (0, 0), 2),
        ("init", stat.S_IFREG | 0o755, init_data, (0, 0), 1),
    ]
    archive = b"".join(newc_entry(inode, name, mode, data, rdev, nlink)
                       for inode, (name, mode, data, rdev, nlink) in enumerate(members, start=1))
    archive += newc_entry(0, "TRAILER!!!", 0)
    # Padded to whole 512-byte blocks as cpio(1) does; the kernel skips the
    # zeros after the trailer.
    return archive + b"\0" * (-len(archive) % 512)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: mkinitramfs.py INIT OUT")
    with open(sys.argv[1], "rb") as f:
        init_data = f.read()
    with open(sys.argv[2], "wb") as f:
        f.write(build_archive(init_data))


if __name__ == "__main__":
    main()
