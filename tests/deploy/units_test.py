#!/usr/bin/env python3
"""deploy/ as shipped: the systemd units' ExecStart lines with deploy/shoal.env, expanded
the way systemd expands them, run the real binaries of a build (loopback, ports picked by
the kernel, a scratch state folder, the demo task library in place of the example one).

Checks that the example flags are accepted; that a worker started as shoal-worker@1 serves
the broker; that the example's durable store keeps a result across a broker restart; that
SIGTERM (the units' KillSignal) stops both with exit 0 within their TimeoutStopSec; and,
where systemd-analyze exists, that systemd reads both units without a complaint. What only
systemd itself can show (DynamicUser, ProtectSystem, restarts) is not tested here, but
the units must not restart on a flag error (exit 2), which would fail again every second.

usage: units_test.py BUILD_DIR      (every child is stopped by pid on the way out)
"""
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(SOURCE, "deploy")


def read_env_file(path):
    """KEY=VALUE lines as systemd's EnvironmentFile reads them (comments, optional quotes)."""
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or line.startswith(";"):
                continue
            key, _, value = line.partition("=")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            env[key.strip()] = value
    return env


def read_service(path):
    """The [Service] section of a unit as a dict of its keys (the last of a repeated one)."""
    return dict(read_lines(path))


def read_dropin(path):
    """A drop-in's LoadCredential= pairs (ID, PATH) and its Environment= variables."""
    credentials, env = [], {}
    for key, value in read_lines(path):
        if key == "LoadCredential":
            cred_id, _, source = value.partition(":")
            credentials.append((cred_id, source))
        elif key == "Environment":
            for assignment in shlex.split(value):
                name, _, setting = assignment.partition("=")
                env[name] = setting
    return credentials, env


def read_lines(path):
    """KEY=VALUE lines of a unit file's [Service] section, in order (keys may repeat)."""
    lines, section = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                section = line
            elif section == "[Service]" and "=" in line and not line.startswith("#"):
                key, _, value = line.partition("=")
                lines.append((key.strip(), value.strip()))
    return lines


def expand_exec(line, env, instance, host):
    """ExecStart as systemd runs it: specifiers first, then words; a word "$X" alone is X
    split at whitespace, "${X}" anywhere is X as it is; "$X" inside a word stays."""
    line = line.replace("%%", "\0").replace("%i", instance).replace("%H", host)
    line = line.replace("\0", "%")
    argv = []
    for word in shlex.split(line):
        alone = re.fullmatch(r"\$(\w+)", word)
        if alone:
            argv += env.get(alone.group(1), "").split()
            continue
        argv.append(re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), word))
    return argv


def check(cond, what):
    if not cond:
        raise AssertionError(what)


class Units:
    def __init__(self, build):
        self.build = os.path.abspath(build)
        self.scratch = tempfile.mkdtemp(prefix="shoal-units-")
        self.children = []
        self.env = read_env_file(os.path.join(DEPLOY, "shoal.env"))
        self.broker_unit = read_service(os.path.join(DEPLOY, "shoal-broker.service"))
        self.worker_unit = read_service(os.path.join(DEPLOY, "shoal-worker@.service"))
        # Loopback, ports 0, the scratch folder for /var/lib/shoal, the demo tasks.
        self.env["SHOAL_CLIENT_ADDRESS"] = "127.0.0.1:0"
        self.env["SHOAL_WORKER_ADDRESS"] = "tcp://127.0.0.1:0"
        self.env["SHOAL_WORKER_BIN"] = os.path.join(self.build, "worker", "shoal-worker")
        state = os.path.join(self.scratch, "state")
        flags = self.env["SHOAL_BROKER_FLAGS"]
        check("/var/lib/shoal/" in flags, "shoal.env: the broker's store is not in StateDirectory")
        self.env["SHOAL_BROKER_FLAGS"] = flags.replace("/var/lib/shoal", state)
        demo = os.path.join(self.build, "worker", "libshoal_demo_tasks.so")
        self.env["SHOAL_WORKER_FLAGS"] = re.sub(
            r"--load=\S+", "--load=" + demo, self.env["SHOAL_WORKER_FLAGS"])
        self.clients = self.workers = None

    def spawn(self, argv, name):
        out = open(os.path.join(self.scratch, name + ".out"), "w+")
        err = open(os.path.join(self.scratch, name + ".err"), "w+")
        env = dict(os.environ, **self.env)
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        self.children.append(proc)
        return proc, out, err

    def start_broker(self):
        argv = expand_exec(self.broker_unit["ExecStart"], self.env, "", "host")
        check(os.path.basename(argv[0]) == "shoal-broker", "broker unit runs " + argv[0])
        argv[0] = os.path.join(self.build, "broker", "shoal-broker")
        proc, out, err = self.spawn(argv, "broker")
        line = self.first_line(proc, out, err)
        self.clients = re.search(r"clients=(\S+)", line).group(1)
        self.workers = re.search(r"workers=(\S+)", line).group(1)
        return proc

    def start_worker(self, instance):
        self.env["SHOAL_BROKER"] = self.workers
        argv = expand_exec(self.worker_unit["ExecStart"], self.env, instance, "host")
        proc, _, _ = self.spawn(argv, "worker" + instance)
        return proc

    def first_line(self, proc, out, err):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            out.seek(0)
            line = out.readline()
            if line.endswith("\n"):
                return line
            check(proc.poll() is None, "exited %s: %s" % (proc.returncode, self.log(err)))
            time.sleep(0.05)
        raise AssertionError("no first line: " + self.log(err))

    @staticmethod
    def log(f):
        f.seek(0)
        return f.read()[-2000:]

    def load_credentials(self, dropin, etc, name):
        """The drop-in `dropin` as systemd applies it, its key files read from `etc` in
        place of /etc/shoal: each credential copied (mode 0400) into a credentials
        directory of its own, %d in its Environment= values that directory."""
        credentials, env = read_dropin(os.path.join(DEPLOY, dropin))
        check(credentials and env, dropin + ": no LoadCredential= or no Environment=")
        directory = os.path.join(self.scratch, "credentials-" + name)
        os.makedirs(directory)
        for cred_id, source in credentials:
            check(source.startswith("/etc/shoal/"), dropin + ": loads " + source)
            target = os.path.join(directory, cred_id)
            shutil.copyfile(source.replace("/etc/shoal", etc), target)
            os.chmod(target, 0o400)
        for key, value in env.items():
            self.env[key] = value.replace("%d", directory).replace("/etc/shoal", etc)

    def cli(self, *args):
        shoal = os.path.join(self.build, "client", "cli", "shoal")
        done = subprocess.run([shoal, *args, "--broker=" + self.clients], capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)
        check(done.returncode == 0, "shoal %s: %s" % (" ".join(args), done.stderr))
        return done.stdout

    @staticmethod
    def stop(proc, unit, what):
        """KillSignal to the main process; it must exit 0 within TimeoutStopSec."""
        check(unit.get("KillSignal", "SIGTERM") == "SIGTERM", what + ": KillSignal changed")
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=float(unit.get("TimeoutStopSec", "90")))
        except subprocess.TimeoutExpired:
            raise AssertionError(what + ": still running after TimeoutStopSec")
        check(code == 0, "%s: exit %s after SIGTERM" % (what, code))

    def close(self):
        for proc in self.children:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.scratch, ignore_errors=True)


def verify_with_systemd(build, scratch):
    """systemd-analyze verify on both units (the binaries' paths pointed at the build)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        print("systemd-analyze not installed: the units' syntax is not checked")
        return
    units = os.path.join(scratch, "units")
    os.makedirs(units)
    for name in ("shoal-broker.service", "shoal-worker@.service"):
        with open(os.path.join(DEPLOY, name)) as f:
            text = f.read().replace("/usr/local/bin/shoal-broker",
                                    os.path.join(build, "broker", "shoal-broker"))
        with open(os.path.join(units, name), "w") as f:
            f.write(text)
        # Its key drop-in, where systemd looks for drop-ins beside a unit.
        os.makedirs(os.path.join(units, name + ".d"))
        shutil.copyfile(os.path.join(DEPLOY, name.split("@")[0].split(".")[0] + "-keys.conf"),
                        os.path.join(units, name + ".d", "keys.conf"))
    done = subprocess.run([analyze, "verify", os.path.join(units, "shoal-broker.service"),
                           os.path.join(units, "shoal-worker@.service")],
                          capture_output=True, text=True, timeout=60)
    complaints = [l for l in (done.stdout + done.stderr).splitlines() if "/units/" in l]
    check(done.returncode == 0 and not complaints, "systemd-analyze: " + "\n".join(complaints))
    print("systemd-analyze verify: both units read without a complaint")


def check_restart_policy(units):
    """A flag error (exit 2) fails the same way on every restart: neither unit restarts on
    it (they did, once a second, for ever); a worker refused its name (exit 3) neither."""
    for name, unit, codes in (("shoal-broker.service", units.broker_unit, {"2"}),
                              ("shoal-worker@.service", units.worker_unit, {"2", "3"})):
        prevent = set(unit.get("RestartPreventExitStatus", "").split())
        check(codes <= prevent, "%s: RestartPreventExitStatus=%s leaves out %s"
              % (name, " ".join(sorted(prevent)), " ".join(sorted(codes - prevent))))
    # And a flag error is exit 2 from both binaries as the units start them.
    env = dict(units.env, SHOAL_BROKER_FLAGS="--heartbeat-ms=abc")
    argv = expand_exec(units.broker_unit["ExecStart"], env, "", "host")
    argv[0] = os.path.join(units.build, "broker", "shoal-broker")
    code = subprocess.run(argv, capture_output=True, timeout=60).returncode
    check(code == 2, "shoal-broker with a bad flag: exit %s, not 2" % code)
    env = dict(units.env, SHOAL_BROKER="tcp://127.0.0.1:1", SHOAL_WORKER_FLAGS="--prefetch=0")
    argv = expand_exec(units.worker_unit["ExecStart"], env, "1", "host")
    code = subprocess.run(argv, capture_output=True, timeout=60,
                          env=dict(os.environ, **env)).returncode
    check(code == 2, "shoal-worker with a bad flag: exit %s, not 2" % code)


def run_with_keys(build):
    """Both units with their key drop-ins (TLS to clients, CURVE both ways): the private
    keys reach the daemons only as credentials, and a task runs through."""
    units = Units(build)
    try:
        etc = os.path.join(units.scratch, "etc")
        os.makedirs(etc)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", os.path.join(etc, "broker-key.pem"),
                        "-out", os.path.join(etc, "broker-cert.pem")],
                       check=True, capture_output=True, timeout=60)
        shoal = os.path.join(units.build, "client", "cli", "shoal")
        for name in ("broker", "worker"):
            subprocess.run([shoal, "keygen", os.path.join(etc, name)], check=True,
                           capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        shutil.copyfile(os.path.join(etc, "worker.pub"), os.path.join(etc, "workers"))
        # The public file the broker's part of shoal.env names (its comments say so).
        units.env["SHOAL_BROKER_FLAGS"] += " --curve-worker-keys-file=" + os.path.join(etc, "workers")
        units.load_credentials("shoal-broker-keys.conf", etc, "broker")
        units.load_credentials("shoal-worker-keys.conf", etc, "worker")
        broker = units.start_broker()
        worker = units.start_worker("1")
        root = "--root-certs=" + os.path.join(etc, "broker-cert.pem")
        check(units.cli("submit", "demo.square", "--args=[12]", "--tls", root).strip() == "144",
              "demo.square(12) through the units with their key drop-ins")
        Units.stop(worker, units.worker_unit, "shoal-worker@1 (keys)")
        Units.stop(broker, units.broker_unit, "shoal-broker (keys)")
        print("deploy units with the key drop-ins: TLS and CURVE from credentials")
    finally:
        units.close()


def main():
    run_with_keys(sys.argv[1])
    units = Units(sys.argv[1])
    try:
        verify_with_systemd(units.build, units.scratch)
        check_restart_policy(units)
        broker = units.start_broker()
        worker = units.start_worker("1")
        check(units.cli("submit", "demo.square", "--args=[12]").strip() == "144",
              "demo.square(12) through the units")
        status = units.cli("status")
        check(re.search(r"\b1 workers\b", status), "status: " + status)
        check("memory only" not in status, "the example's --store-dir is not in use: " + status)
        Units.stop(worker, units.worker_unit, "shoal-worker@1")
        Units.stop(broker, units.broker_unit, "shoal-broker")
        # Restart: the example's journal still holds the result.
        units.start_broker()
        status = units.cli("status")
        retained = re.search(r"(\d+) results retained", status)
        check(retained and int(retained.group(1)) >= 1, "after a restart: " + status)
        print("deploy units: broker and worker@1 ran as shipped; the result outlived a restart")
    finally:
        units.close()


if __name__ == "__main__":
    main()
