"""The resident memory of the stack's processes, found by the ports the stack serves on.

Found by port rather than by name, so a run against a stack started by a test (no `devtools.stack` process) or next
to other stacks on the machine samples the processes of its own stack alone.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit


def _processes() -> dict[int, tuple[int, list[str]]]:
    """Every process: its parent's id and its command line."""
    found = {}
    if not Path("/proc").is_dir():  # not Linux: nothing to sample
        return found
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        found[int(entry.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), command)
    return found


def _serves(command: list[str], module: str, port: int) -> bool:
    return f"devtools.{module}" in command and str(port) in command


def stack_processes(api_url: str, env: dict[str, str]) -> dict[int, str]:
    """pid: role, for the API on `api_url`, the stand-ins named by the stack's `env`, the runner started beside the
    API, and the process that started them if it is `devtools.stack`."""
    ports = {"local_api": urlsplit(api_url).port, "moto_server": urlsplit(env["AWS_ENDPOINT_URL"]).port,
             "localstripe_server": urlsplit(env["STRIPE_API_BASE"]).port}
    processes = _processes()
    roles = {pid: role for pid, (_, command) in processes.items() for role, port in ports.items()
             if _serves(command, role, port)}
    api_parents = {processes[pid][0] for pid, role in roles.items() if role == "local_api"}
    for pid, (parent, command) in processes.items():
        if parent in api_parents and "devtools.runner" in command:
            roles[pid] = "runner"
    for parent in api_parents:
        if parent in processes and "devtools.stack" in processes[parent][1]:
            roles[parent] = "stack"
    return roles


def memory(api_url: str, env: dict[str, str]) -> dict[str, int]:
    """'role:pid': VmRSS in MiB, for each process of the stack."""
    sizes = {}
    for pid, role in stack_processes(api_url, env).items():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                sizes[f"{role}:{pid}"] = int(line.split()[1]) // 1024
    return sizes
