"""Linux namespaces for the tests: the session's own network and host name, and a root directory
entered as a machine of its own (PID, mount and hostname namespaces, optionally a network one).

Why: the machine may run other HTCondor pools, ssh sessions and tests at the same time. With its own
network namespace the test session has its own loopback, so no port of the machine is taken or can be
taken from it; with its own PID namespace a pool's processes are told apart from the machine's, and
ending the namespace's first process ends every process in it.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import socket
import struct
import subprocess
import tempfile
import time
import zlib
from pathlib import Path

CLONE_NEWUTS = 0x04000000
CLONE_NEWNET = 0x40000000
SESSION_HOSTNAME = "localhost"  # resolves from /etc/hosts everywhere: the session has no DNS server, and a lookup of another name waits out the resolver (2 min seen)

_libc = ctypes.CDLL(None, use_errno=True)
_host_network: int | None = None  # a descriptor of the network namespace the session started in


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def loopback_up() -> None:
    """`ip link set lo up` without ip: SIOCSIFFLAGS with IFF_UP | IFF_LOOPBACK | IFF_RUNNING."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", 0x1 | 0x8 | 0x40))


def isolate_session() -> str | None:
    """Move this process (before it starts any thread) into a network and hostname namespace of its
    own, loopback up. Returns why it could not, or None."""
    global _host_network
    if os.geteuid() != 0:
        return "creating namespaces needs root"
    if _host_network is not None:
        return None
    try:
        fd = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        _check(_libc.unshare(CLONE_NEWNET | CLONE_NEWUTS), "unshare(CLONE_NEWNET | CLONE_NEWUTS)")
        socket.sethostname(SESSION_HOSTNAME)
        loopback_up()
    except OSError as exc:
        return f"the test session cannot have namespaces of its own ({exc})"
    _host_network = fd
    return None


def in_host_network() -> None:
    """preexec_fn for a child that needs the machine's network (building the HTCondor root)."""
    if _host_network is not None:
        _check(_libc.setns(_host_network, CLONE_NEWNET), "setns(host network)")


BOOT = r"""
set -e
root=$1
mount --make-rprivate /
mount --rbind "$root" "$root"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys" 2>/dev/null || mount --rbind /sys "$root/sys"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
mount --bind "$root/dev/pts/ptmx" "$root/dev/ptmx"
mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
hostname "$2"
[ "$3" = net ] && ip link set lo up
cd "$root"
mkdir -p .old-root
pivot_root . .old-root
cd /
umount -l /.old-root
rmdir /.old-root
echo ready
exec /usr/bin/python3 -c '
import os, time
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.5)
'
"""


class Machine:
    """A root directory entered as a machine of its own: new PID, mount and hostname namespaces (and
    a network namespace when `net`), the directory made the root by pivot_root. Not chroot: Linux
    refuses user namespaces, so unprivileged Apptainer, to a chrooted process. Its first process
    reaps orphans; ending it ends every process of the machine, and its mounts with it."""

    def __init__(self, path: Path, hostname: str, *, net: bool = False) -> None:
        self.path = path
        self.hostname = hostname
        self.net = net
        self.init: int | None = None
        self._unshare: subprocess.Popen[str] | None = None

    def start(self) -> None:
        flags = ["--pid", "--fork", "--kill-child", "--mount", "--uts", *(["--net"] if self.net else []), "--propagation", "private"]
        with tempfile.TemporaryFile("w+") as err:
            self._unshare = subprocess.Popen(["unshare", *flags, "/bin/sh", "-c", BOOT, "boot", str(self.path), self.hostname, "net" if self.net else "-"],
                                             stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True, preexec_fn=_die_with_parent)
            assert self._unshare.stdout is not None
            line = self._unshare.stdout.readline().strip()
            if line != "ready":
                self._unshare.wait(10)
                err.seek(0)
                raise RuntimeError(f"the namespaces of {self.hostname} did not come up (exit {self._unshare.returncode}): {err.read()[-2000:]}")
        children = Path(f"/proc/{self._unshare.pid}/task/{self._unshare.pid}/children").read_text().split()
        self.init = int(children[0])
        _RUNNING.add(self)
        self._pidns = os.readlink(f"/proc/{self.init}/ns/pid")

    def stop(self) -> None:
        if self._unshare is None:
            return
        if self.init is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.init, 9)
        self._unshare.kill()
        self._unshare.wait(30)
        if self._unshare.stdout is not None:
            self._unshare.stdout.close()
        deadline = time.monotonic() + 30
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._unshare = None
        self.init = None
        _RUNNING.discard(self)

    def enter(self, *, network: bool = True) -> list[str]:
        """The argv prefix that runs a command in this machine (as root, in its root directory)."""
        assert self.init is not None, f"{self.hostname} is not running"
        return ["nsenter", "-t", str(self.init), "-m", "-u", "-p", *(["-n"] if self.net and network else []), "-r", "-w", "--"]

    def pids(self) -> list[int]:
        """Host PIDs of the processes in this machine, its first process excluded."""
        if self.init is None:
            return []
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != self.init:
                try:
                    if os.readlink(f"/proc/{entry}/ns/pid") == self._pidns:
                        found.append(int(entry))
                except OSError:
                    pass
        return found


#: Machines started and not yet stopped: a test whose fixture failed half-way may leave some.
_RUNNING: set[Machine] = set()


def stop_all() -> None:
    """End every machine still running (the session's end)."""
    for machine in list(_RUNNING):
        machine.stop()


def _die_with_parent() -> None:
    _libc.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL: a killed test session takes its machines along


class Bridge:
    """An Ethernet bridge in the test session's network namespace, joining machines that have network
    namespaces of their own (Machine(net=True)): each gets eth0 with 10.<n>.0.<k>/24; the session
    itself is 10.<n>.0.1, so the tests and a hub reach every machine. Needs the host's `ip`."""

    def __init__(self, name: str = "confgen-br0", subnet: int = 77) -> None:
        self.name = name
        self.prefix = f"10.{subnet}.0"
        self.members: dict[str, str] = {}  # host name -> address

    def _ip(self, *args: str, inside: Machine | None = None) -> None:
        # The bridge side runs the host's ip (iproute2) in the session's network: `netns <pid>` names a
        # host PID, which only the host's /proc shows.
        where = [*inside.enter(), "/usr/sbin/ip"] if inside is not None else ["ip"]
        proc = subprocess.run([*where, *args], capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")

    def up(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._ip("link", "del", self.name)
        self._ip("link", "add", self.name, "type", "bridge")
        self._ip("addr", "add", f"{self.prefix}.1/24", "dev", self.name)
        self._ip("link", "set", self.name, "up")

    def attach(self, machine: Machine) -> str:
        """Give a started machine with its own network an address on the bridge; returns it."""
        assert machine.net and machine.init is not None
        k = len(self.members) + 2
        address = f"{self.prefix}.{k}"
        outside = f"cg{zlib.crc32(self.name.encode()) % 10000:04d}-{k}"  # unique per bridge, within IFNAMSIZ
        with contextlib.suppress(RuntimeError):  # left by a machine of an earlier test whose namespace is not gone yet
            self._ip("link", "del", outside)
        self._ip("link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", str(machine.init))
        self._ip("link", "set", outside, "master", self.name, "up")
        self._ip("addr", "add", f"{address}/24", "dev", "eth0", inside=machine)
        self._ip("link", "set", "eth0", "up", inside=machine)
        self.members[machine.hostname] = address
        return address

    def down(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._ip("link", "del", self.name)
        self.members.clear()
