"""Helpers for tests/test_hub.py: real Unix users, a JupyterHub process, code run in a user's kernel.

Nothing here is a mock: users are made with ``useradd`` (and removed with ``userdel -r``), the hub is the
``jupyterhub`` command with configurable-http-proxy from npm, and code runs in a kernel of the user's own
single-user server, reached through the hub's proxy (REST to start the kernel, its websocket to execute).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def add_user(name: str, home_base: str) -> None:
    subprocess.run(["useradd", "--create-home", "--base-dir", home_base, "--shell", "/bin/bash", name],
                   check=True, capture_output=True)


def remove_user(name: str) -> None:
    """Remove a user made by :func:`add_user`, after ending any process still running as it."""
    subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)  # only this test's own user
    for _ in range(20):
        if subprocess.run(["userdel", "--remove", name], capture_output=True).returncode in (0, 6):  # 6: no such user
            return
        time.sleep(0.5)
    subprocess.run(["userdel", "--force", "--remove", name], capture_output=True)


class Hub:
    """A running hub's REST API, with a service token that holds the admin role."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url.rstrip("/"), token
        self.headers = {"Authorization": f"token {token}"}
        self.kernels: dict[str, str] = {}

    def api(self, method: str, path: str, **kw) -> requests.Response:
        return requests.request(method, f"{self.url}/hub/api{path}", headers=self.headers, timeout=60, **kw)

    def wait_up(self, proc: subprocess.Popen, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyterhub exited with {proc.returncode}")
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise TimeoutError("the hub did not answer within %d s" % timeout)

    def spawn(self, name: str, timeout: float = 180, wait: bool = True) -> dict | None:
        """Ask the hub to start ``name``'s server; with ``wait``, wait until it is ready (the user model)."""
        r = self.api("POST", f"/users/{name}/server")
        assert r.status_code in (201, 202), (r.status_code, r.text)
        return self.wait_ready(name, timeout) if wait else None

    def wait_ready(self, name: str, timeout: float = 180) -> dict:
        """Wait until ``name``'s server is ready; the user model."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            user = self.api("GET", f"/users/{name}").json()
            server = user.get("servers", {}).get("")
            if server and server.get("ready"):
                return user
            time.sleep(1)
        raise TimeoutError(f"{name}'s server was not ready within {timeout} s")

    def run(self, name: str, code: str, timeout: float = 300) -> str:
        """Execute ``code`` in a kernel of ``name``'s server (one kernel per user, started on first use);
        its printed output. Raises with the traceback if the code raises."""
        import websocket

        base = f"{self.url}/user/{name}/api/kernels"
        if name not in self.kernels:
            r = requests.post(base, headers=self.headers, json={"name": "python3"}, timeout=60)
            assert r.status_code == 201, (r.status_code, r.text)
            self.kernels[name] = r.json()["id"]
        ws = websocket.create_connection(base.replace("http", "ws", 1) + f"/{self.kernels[name]}/channels",
                                         header=[f"Authorization: token {self.token}"], timeout=timeout)
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": name, "session": uuid.uuid4().hex,
                       "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        out, error = [], None
        try:
            while True:
                msg = json.loads(ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["msg_type"]
                if kind == "stream":
                    out.append(msg["content"]["text"])
                elif kind == "error":
                    error = "\n".join(msg["content"]["traceback"])
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    break
        finally:
            ws.close()
        if error:
            raise RuntimeError(f"code run as {name} raised:\n{error}\noutput:\n{''.join(out)}")
        return "".join(out)

    def sh(self, name: str, command: str, timeout: float = 300) -> tuple[int, str]:
        """Run a shell command as ``name``, from its home folder, in its own server's kernel: (exit status, output)."""
        code = ("import subprocess, os, json\n"
                f"_p = subprocess.run({command!r}, shell=True, cwd=os.path.expanduser('~'), capture_output=True, text=True)\n"
                "print(json.dumps([_p.returncode, _p.stdout + _p.stderr]))")
        rc, out = json.loads(self.run(name, code, timeout).strip().splitlines()[-1])
        return rc, out


def which(*names: str) -> list[str]:
    """The names of the commands missing from PATH."""
    return [n for n in names if shutil.which(n) is None]


def is_root() -> bool:
    return os.geteuid() == 0
