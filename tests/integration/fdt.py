"""A small reader of flattened device trees (DTB version 17) for the tests:
a blob becomes {node path: {property name: value bytes}}, and phandle
references in the properties that hold one are turned into the path of the
node they name, so two trees whose phandles are numbered differently
compare equal."""
import struct

FDT_MAGIC = 0xD00DFEED
BEGIN_NODE, END_NODE, PROP, NOP, END = 1, 2, 3, 4, 9
# Properties whose value is one phandle (the ones QEMU virt's tree uses).
PHANDLE_PROPS = ("cpu", "interrupt-parent", "msi-parent", "regmap")


class FdtError(ValueError):
    pass


def _cstring(blob, at):
    end = blob.find(b"\0", at)
    if end < 0:
        raise FdtError("unterminated string at %#x" % at)
    return blob[at:end].decode("ascii", "replace"), end + 1


def parse(blob):
    """{path: {name: bytes}} in document order ("/" is the root)."""
    if len(blob) < 40:
        raise FdtError("shorter than a header")
    (magic, total, off_struct, off_strings, _rsv, version, _last, _boot, size_strings,
     size_struct) = struct.unpack(">10I", blob[:40])
    if magic != FDT_MAGIC or total > len(blob) or version < 17:
        raise FdtError("bad header (magic %#x, totalsize %d of %d, version %d)" % (
            magic, total, len(blob), version))
    strings = blob[off_strings:off_strings + size_strings]
    at, end = off_struct, off_struct + size_struct
    nodes, stack = {}, []
    while at < end:
        (token,) = struct.unpack(">I", blob[at:at + 4])
        at += 4
        if token == BEGIN_NODE:
            name, at = _cstring(blob, at)
            at = (at + 3) & ~3
            stack.append(name)
            path = "/" + "/".join(stack[1:])
            if path in nodes:
                raise FdtError("two nodes named %s" % path)
            nodes[path] = {}
        elif token == END_NODE:
            if not stack:
                raise FdtError("END_NODE outside a node")
            stack.pop()
        elif token == PROP:
            length, nameoff = struct.unpack(">II", blob[at:at + 8])
            value = blob[at + 8:at + 8 + length]
            at = (at + 8 + length + 3) & ~3
            name, _ = _cstring(strings, nameoff)
            nodes["/" + "/".join(stack[1:])][name] = value
        elif token == NOP:
            continue
        elif token == END:
            break
        else:
            raise FdtError("bad token %d at %#x" % (token, at - 4))
    if stack:
        raise FdtError("unbalanced nodes")
    return resolve_phandles(nodes)


def resolve_phandles(nodes):
    """Drop each node's phandle and write references as b"&/path"."""
    by_handle = {}
    for path, props in nodes.items():
        if "phandle" in props:
            by_handle[struct.unpack(">I", props.pop("phandle"))[0]] = path
    for props in nodes.values():
        for name in PHANDLE_PROPS:
            if name in props and len(props[name]) == 4:
                target = by_handle.get(struct.unpack(">I", props[name])[0], "?")
                props[name] = b"&" + target.encode()
    return nodes


def strings(value):
    """A stringlist property as a list of str."""
    return [s.decode("ascii", "replace") for s in value.rstrip(b"\0").split(b"\0")] if value else []


def show(value):
    """A property value for a message: text if it reads as strings, else cells."""
    texts = value.rstrip(b"\0").split(b"\0")
    if value.endswith(b"\0") and all(t and all(32 <= b < 127 for b in t) for t in texts):
        return repr(strings(value))
    if len(value) % 4 == 0:
        return "<%s>" % " ".join("%#x" % c for c in struct.unpack(">%dI" % (len(value) // 4), value))
    return value.hex()
