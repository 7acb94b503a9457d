#!/usr/bin/env python3
"""deploy/ in containers: the image of deploy/Containerfile, built with Podman from this
source tree, and the Kubernetes manifests of deploy/k8s run in it.

The image as shipped: its CMD starts a broker with a durable store on the image's volume;
two workers (the command of the Containerfile's header, without --processes) serve it, one
process per CPU the container may use (one for the worker given --cpus=1); the CLI in the
image runs a task and a map; a user's worker image (tests/deploy/user_worker: a worker
binary built in the image of the Containerfile's `dev` stage and copied into one FROM the
Shoal image, as deploy/README.md says) serves its own task; the image runs as its non-root
user; SIGTERM (the image's STOPSIGNAL) stops every container with exit 0; a broker started
again on the volume still holds the results.

The manifests: checked against each other (selectors and labels, named ports, the ports in
the flags, the worker's broker address against the Service, the store against its volume
claim, the grace periods against the drain timeout, the user against the image's), then
run: the broker's and both worker replicas' command and args (with $(VAR) expanded as the
kubelet does, POD_NAME from the downward API) in the image, with the pod's read-only root,
user, dropped capabilities, CPU and memory limits and /dev/shm size; the Service name
resolves to the broker. The probes must pass (a tcpSocket probe's port accepts; a grpc
probe's health check, made inside the pod's network namespace, answers SERVING); a map
runs through the Service address; SIGTERM stops all within terminationGracePeriodSeconds,
with exit 0. What only a cluster shows (scheduling, the volume claim's binding, rolling
updates) is not tested.

Every container shares the broker's network namespace, which has loopback only, so nothing
leaves the machine and the fixed ports 50051 and 5555 clash with nothing.

usage: SHOAL_CONTAINER_TEST=1 container_test.py   (needs root, Podman and the network: its
       image build downloads Debian packages; exit 77 = skipped, saying why, and without
       SHOAL_CONTAINER_TEST=1, so that the suite's traffic stays on loopback)
Environment: SHOAL_CONTAINER_BASE=IMAGE builds FROM that image instead of debian:12 (by
default docker.io/library/debian:12 if present or pullable, else a Debian 12 made with
debootstrap and kept as localhost/shoal-debootstrap:bookworm for later runs).
"""
import json
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

yaml = None  # python3-yaml, imported once the test knows it runs (main())

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(SOURCE, "deploy")
SKIP = 77
DEBIAN = "docker.io/library/debian:12"
DEBOOTSTRAPPED = "localhost/shoal-debootstrap:bookworm"
DEMO_TASKS = "/usr/local/lib/shoal/libshoal_demo_tasks.so"
USER_WORKER = os.path.join(SOURCE, "tests", "deploy", "user_worker")
HEALTH_CHECK = os.path.join(SOURCE, "tests", "integration", "health_check.py")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def skip(why):
    print("SKIPPED: " + why)
    sys.exit(SKIP)


class Podman:
    """podman with this run's settings; every container it starts is removed by close()."""

    def __init__(self, scratch):
        self.env = dict(os.environ)
        self.scratch = scratch
        self.containers = []
        self.volumes = []
        self.images_before = None
        self.tagged = []
        self.tag = "shoal-test-%d" % os.getpid()

    def run(self, *args, timeout=120, check_rc=True, stdin=None):
        done = subprocess.run(["podman", *args], capture_output=True, text=True,
                              timeout=timeout, env=self.env, input=stdin,
                              stdin=None if stdin is not None else subprocess.DEVNULL)
        if check_rc and done.returncode != 0:
            raise AssertionError("podman %s: exit %d: %s" % (
                " ".join(args[:3]), done.returncode, (done.stderr or done.stdout)[-3000:]))
        return done

    def works(self, image):
        return self.run("run", "--rm", "--network=none", image, "true", check_rc=False,
                        timeout=120)

    def settle(self, image):
        """Podman's defaults, or the ones this kind of sandbox needs; False if neither runs."""
        if self.works(image).returncode == 0:
            return True
        # Without CAP_SYS_RESOURCE Podman's default ulimits (1048576 files) cannot be set,
        # and crun refuses cgroup v1 hybrid setups that runc takes: use this process's own
        # limits (Podman lowers its process limit to 32768) and runc, where installed.
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
        nproc = 32768 if nproc == resource.RLIM_INFINITY else min(nproc, 32768)
        conf = os.path.join(self.scratch, "containers.conf")
        with open(conf, "w") as f:
            f.write('[containers]\ndefault_ulimits = ["nofile=%d:%d", "nproc=%d:%d"]\n'
                    % (nofile, nofile, nproc, nproc))
            if shutil.which("runc"):
                f.write('[engine]\nruntime = "runc"\n')
        self.env["CONTAINERS_CONF"] = conf
        done = self.works(image)
        if done.returncode == 0:
            print("podman: with this machine's ulimits%s" %
                  (" and runc" if shutil.which("runc") else ""))
            return True
        print("podman cannot run a container here: " + done.stderr.strip()[-500:])
        return False

    def start(self, name, *args):
        self.containers.append(name)
        self.run("run", "-d", "--name", name, *args)

    def logs(self, name):
        done = self.run("logs", name, check_rc=False)
        return done.stdout + done.stderr

    def wait_line(self, name, pattern, seconds=60):
        """The first log line of container `name` that matches `pattern`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            done = self.run("logs", name, check_rc=False)
            for line in (done.stdout + done.stderr).splitlines():
                if re.search(pattern, line):
                    return line
            state = self.run("inspect", "-f", "{{.State.Status}}", name).stdout.strip()
            check(state == "running", "%s is %s: %s" % (name, state, self.logs(name)[-2000:]))
            time.sleep(0.2)
        raise AssertionError("%s: no line like %r: %s" % (name, pattern, self.logs(name)[-2000:]))

    def stop(self, name, grace_s):
        """SIGTERM (the image's STOPSIGNAL); the container must exit 0 within grace_s."""
        begin = time.monotonic()
        self.run("stop", "--time=%d" % grace_s, name, timeout=grace_s + 60)
        took = time.monotonic() - begin
        code = self.run("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip()
        check(code == "0", "%s: exit %s after SIGTERM: %s" % (name, code, self.logs(name)[-2000:]))
        check(took < grace_s, "%s: took %.1f s to stop (grace %d s)" % (name, took, grace_s))

    def remove(self, name, check_rc=True):
        """Removes the container and its anonymous volumes (the image's VOLUME)."""
        self.run("rm", "-f", "-v", "--time=0", name, check_rc=check_rc)
        if name in self.containers:
            self.containers.remove(name)

    def close(self):
        # The last started first: a container that joined another's namespace goes first.
        for name in reversed(list(self.containers)):
            self.remove(name, check_rc=False)
        for volume in self.volumes:
            self.run("volume", "rm", "-f", volume, check_rc=False)
        # The images this run tagged, then the others it made (its builds' intermediate
        # ones), unless something uses them (another build going on meanwhile).
        if self.images_before is not None:
            self.run("rmi", "-f", *self.tagged, check_rc=False, timeout=300)
            for image in self.image_ids() - self.images_before:
                self.run("rmi", image, check_rc=False, timeout=300)

    def remove_leftovers(self):
        """Containers, volumes and images of earlier runs that were killed (their pid is
        gone), which no `finally` could remove."""
        def dead(name):
            m = re.search(r"shoal-test-(\d+)", name)
            return m and int(m.group(1)) != os.getpid() and not os.path.exists(
                "/proc/" + m.group(1))
        names = self.run("ps", "-a", "--format", "{{.Names}}", check_rc=False).stdout.split()
        # Those that joined another's namespace first (their names are longer).
        for name in sorted((n for n in names if dead(n)), key=len, reverse=True):
            self.run("rm", "-f", "-v", "--time=0", name, check_rc=False)
        volumes = self.run("volume", "ls", "--format", "{{.Name}}", check_rc=False).stdout.split()
        for volume in filter(dead, volumes):
            self.run("volume", "rm", "-f", volume, check_rc=False)
        images = self.run("images", "--format", "{{.Repository}}", check_rc=False).stdout.split()
        for image in set(filter(dead, images)):
            self.run("rmi", "-f", image + ":latest", check_rc=False, timeout=300)

    def image_ids(self):
        done = self.run("images", "-a", "-q", "--no-trunc", check_rc=False)
        return set(done.stdout.split())

    def note_images(self):
        """Remembers the images there are, so that close() removes only those made later."""
        self.images_before = self.image_ids()


def base_image(podman):
    """The Debian 12 image to build FROM (see the module's comment)."""
    wanted = os.environ.get("SHOAL_CONTAINER_BASE")
    if wanted:
        return wanted
    for image in (DEBIAN, DEBOOTSTRAPPED):
        if podman.run("image", "exists", image, check_rc=False).returncode == 0:
            return image
    try:
        if podman.run("pull", "-q", DEBIAN, check_rc=False, timeout=90).returncode == 0:
            return DEBIAN
    except subprocess.TimeoutExpired:
        pass
    if not shutil.which("debootstrap"):
        skip("no Debian 12 image and no debootstrap to make one")
    root = os.path.join(podman.scratch, "rootfs")
    mirror = os.environ.get("SHOAL_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    print("making a Debian 12 base image with debootstrap from " + mirror)
    done = subprocess.run(["debootstrap", "--variant=minbase", "bookworm", root, mirror],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:  # e.g. no network: nothing to build an image from
        skip("no Debian 12 image, and debootstrap from %s failed: %s"
             % (mirror, (done.stderr or done.stdout).strip()[-500:]))
    tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
    imported = None
    try:
        imported = subprocess.Popen(["podman", "import", "-", DEBOOTSTRAPPED], stdin=tar.stdout,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env=podman.env)
        tar.stdout.close()  # the import's now: tar sees it end if the import does
        _, err = imported.communicate(timeout=600)
        check(imported.returncode == 0, "podman import: " + err[-2000:])
    finally:
        for proc in (tar, imported):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    shutil.rmtree(root, ignore_errors=True)
    return DEBOOTSTRAPPED


def build_images(podman, base):
    """The Shoal image, its `dev` stage, and a user's worker image built as deploy/README.md
    says: in the `dev` stage's image, copied into one FROM the Shoal image."""
    image = "localhost/%s:latest" % podman.tag
    dev = "localhost/%s-dev:latest" % podman.tag
    user = "localhost/%s-user:latest" % podman.tag
    podman.note_images()
    podman.tagged += [image, dev, user]
    begin = time.monotonic()
    # --network=host: the build's apt-get reaches Debian's mirror without a bridge. The
    # second build takes the `dev` stage from the first one's layers.
    containerfile = os.path.join(DEPLOY, "Containerfile")
    for target, tag in (["--target=dev"], dev), ([], image):
        podman.run("build", "--network=host", "-f", containerfile, "--build-arg", "BASE=" + base,
                   *target, "-t", tag, SOURCE, timeout=600)
    print("built %s and its dev stage FROM %s in %.0f s" % (image, base, time.monotonic() - begin))
    begin = time.monotonic()
    podman.run("build", "--network=host", "--build-arg", "DEV=" + dev, "--build-arg",
               "RUNTIME=" + image, "-t", user, USER_WORKER, timeout=300)
    print("built a user's worker image %s in %.0f s" % (user, time.monotonic() - begin))
    return image, user


def shipped_image(podman, image, user):
    """The image's own CMD, volume, user and stop signal, with two workers, and the user's
    worker image serving its own task."""
    config = json.loads(podman.run("image", "inspect", image).stdout)[0]["Config"]
    check(config.get("StopSignal") in ("SIGTERM", "15"), "STOPSIGNAL: %s" % config)
    volume = podman.tag + "-store"
    podman.volumes.append(volume)
    broker = podman.tag + "-broker"
    podman.start(broker, "--network=none", "-v", volume + ":/var/lib/shoal", image)
    line = podman.wait_line(broker, r"^shoal-broker listening")
    # A wildcard client address is shown as the loopback address clients may use.
    check("clients=127.0.0.1:50051" in line and "workers=tcp://0.0.0.0:5555" in line, line)
    uid = podman.run("exec", broker, "id", "-u").stdout.strip()
    check(uid != "0", "the broker runs as root")
    # Two workers with no --processes: one process per CPU the container may use (the
    # second is held to one by its CPU quota).
    workers = []
    for i, cpus in ((1, []), (2, ["--cpus=1"])):
        name = "%s-worker%d" % (podman.tag, i)
        workers.append(name)
        podman.start(name, "--network=container:" + broker, *cpus, image, "shoal-worker",
                     "--broker=tcp://127.0.0.1:5555", "--load=" + DEMO_TASKS)
        slots = 1 if cpus else len(os.sched_getaffinity(0))  # the CPUs it may use
        podman.wait_line(name, r"^shoal-worker ready .*slots=%d\b" % slots)
    out = podman.run("exec", broker, "shoal", "submit", "demo.square", "--args=[12]").stdout
    check(out.strip() == "144", "demo.square(12) in the image: " + out)
    lines = "".join("[%d]\n" % i for i in range(1000))
    out = podman.run("exec", "-i", broker, "shoal", "map", "demo.square", "--input=/dev/stdin",
                     stdin=lines).stdout.split()
    check(out == [str(i * i) for i in range(1000)], "map in the image: %s" % out[:10])
    status = podman.run("exec", broker, "shoal", "status").stdout
    check(re.search(r"\b2 workers\b", status) and "memory only" not in status, status)
    name = podman.tag + "-user-worker"
    workers.append(name)
    podman.start(name, "--network=container:" + broker, user, "user-worker",
                 "--broker=tcp://127.0.0.1:5555", "--processes=1")
    podman.wait_line(name, r"^shoal-worker ready ")
    out = podman.run("exec", broker, "shoal", "submit", "user.shout", '--args=["hi"]').stdout
    check(out.strip() == '"HI!"', "user.shout('hi') on the user's worker image: " + out)
    for name in workers:
        podman.stop(name, 45)
    podman.stop(broker, 30)
    for name in workers + [broker]:  # the workers first: they hold the broker's namespace
        podman.remove(name)
    podman.start(broker, "--network=none", "-v", volume + ":/var/lib/shoal", image)
    podman.wait_line(broker, r"^shoal-broker listening")
    status = podman.run("exec", broker, "shoal", "status").stdout
    retained = re.search(r"(\d+) results retained", status)
    check(retained and int(retained.group(1)) >= 1, "after a restart on the volume: " + status)
    podman.stop(broker, 30)
    podman.remove(broker)
    print("image as shipped: broker (CMD) and 2 workers ran a task and a map as uid %s, a "
          "user's worker image its own task; SIGTERM stopped all with exit 0; the volume kept "
          "the results" % uid)
    return int(uid)


def read_manifests():
    docs = []
    with open(os.path.join(DEPLOY, "k8s", "kustomization.yaml")) as f:
        kustomization = yaml.safe_load(f)
    for name in kustomization["resources"]:
        with open(os.path.join(DEPLOY, "k8s", name)) as f:
            docs += [d for d in yaml.safe_load_all(f) if d]
    by_kind = {}
    for doc in docs:
        by_kind[(doc["kind"], doc["metadata"]["name"])] = doc
    return kustomization, by_kind


def flag(args, name):
    """The value of --name=VALUE in args (None when absent)."""
    for arg in args:
        if arg.startswith("--%s=" % name):
            return arg.split("=", 1)[1]
    return None


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def expand(text, env):
    """$(VAR) as the kubelet expands command and args: from the container's env, $$ is $,
    an unknown $(VAR) stays as it is."""
    return re.sub(r"\$\$|\$\((\w+)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), text)


def check_manifests(kustomization, docs, image_uid):
    """What must agree between the manifests and with the binaries' flags."""
    service = docs[("Service", "shoal-broker")]
    broker = docs[("Deployment", "shoal-broker")]
    worker = docs[("Deployment", "shoal-worker")]
    claim = docs[("PersistentVolumeClaim", "shoal-broker-store")]
    for deployment in (broker, worker):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        check(selector.items() <= labels.items(), "selector of " + deployment["metadata"]["name"])
        pod = deployment["spec"]["template"]["spec"]
        check(pod["securityContext"]["runAsUser"] == image_uid,
              "runAsUser %s is not the image's user %d" % (pod["securityContext"], image_uid))
        for c in pod["containers"]:
            check(c["image"] in [i["name"] for i in kustomization["images"]], "image " + c["image"])
    check(service["spec"]["selector"].items()
          <= broker["spec"]["template"]["metadata"]["labels"].items(), "Service selector")
    check(broker["spec"]["replicas"] == 1 and broker["spec"]["strategy"]["type"] == "Recreate",
          "one broker per store: replicas 1, Recreate")
    pod = broker["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    check(port_of(flag(container["args"], "client-address")) == ports["grpc"], "grpc port")
    check(port_of(flag(container["args"], "worker-address")) == ports["workers"], "workers port")
    for p in service["spec"]["ports"]:
        check(p["targetPort"] in ports, "Service targetPort %s" % p["targetPort"])
    for probe in ("readinessProbe", "livenessProbe"):
        spec = container[probe]
        if "tcpSocket" in spec:
            port = spec["tcpSocket"]["port"]
            check(port in ports or port in ports.values(), "%s port %s" % (probe, port))
        else:  # a grpc probe takes a number only
            port = spec["grpc"]["port"]
            check(isinstance(port, int) and port in ports.values(), "%s port %s" % (probe, port))
    store = flag(container["args"], "store-dir")
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    held = [n for n, path in mounts.items() if store.startswith(path.rstrip("/") + "/")]
    check(held and volumes[held[0]]["persistentVolumeClaim"]["claimName"] ==
          claim["metadata"]["name"], "--store-dir %s is not on the volume claim" % store)
    wpod = worker["spec"]["template"]["spec"]
    (wcontainer,) = wpod["containers"]
    service_port = {p["name"]: p["port"] for p in service["spec"]["ports"]}["workers"]
    check(flag(wcontainer["args"], "broker") == "tcp://%s:%d" % (
        service["metadata"]["name"], service_port), "the workers' --broker is not the Service")
    drain_s = int(flag(wcontainer["args"], "drain-timeout-ms") or 30000) / 1000
    check(wpod["terminationGracePeriodSeconds"] > drain_s + 5,
          "workers' grace period is not longer than --drain-timeout-ms")
    processes = flag(wcontainer["args"], "processes")
    check(processes is None
          or int(processes) <= cpu_quantity(wcontainer["resources"]["limits"]["cpu"]),
          "--processes above the CPU limit")
    print("manifests agree: selectors, ports, probes, store on its claim, the workers' broker "
          "address, grace period over the drain timeout, user, processes within the CPU limit")


def memory_bytes(quantity):
    """A Kubernetes memory quantity ("2Gi", "500M", "1048576") in bytes."""
    text = str(quantity)
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
             "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            return int(float(text[:-len(suffix)]) * units[suffix])
    return int(float(text))


def cpu_quantity(quantity):
    """A Kubernetes CPU quantity ("2", "500m", 1.5) in CPUs."""
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def pod_flags(pod, container, env):
    """podman run flags for what the pod spec asks of the container."""
    # --image-volume=ignore: a pod gets no volume for the image's VOLUME, only its own.
    flags = ["--user=%d:%d" % (pod["securityContext"]["runAsUser"],
                               pod["securityContext"]["runAsGroup"]), "--image-volume=ignore"]
    security = container.get("securityContext", {})
    if security.get("readOnlyRootFilesystem"):
        flags += ["--read-only", "--read-only-tmpfs=false"]
    if "ALL" in security.get("capabilities", {}).get("drop", []):
        flags.append("--cap-drop=all")
    if security.get("allowPrivilegeEscalation") is False:
        flags.append("--security-opt=no-new-privileges")
    limits = container.get("resources", {}).get("limits", {})
    if "cpu" in limits:
        flags.append("--cpus=%g" % cpu_quantity(limits["cpu"]))
    if "memory" in limits:
        flags.append("--memory=%d" % memory_bytes(limits["memory"]))
    for name, value in env.items():
        flags += ["-e", "%s=%s" % (name, value)]
    return flags


def probe(podman, container, spec, kind):
    """The kubelet's tcpSocket or grpc probe of the container `spec`, made on the loopback
    of `container`'s network namespace: its port must accept, or answer SERVING."""
    ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
    action = spec[kind]
    if "tcpSocket" in action:
        port = ports.get(action["tcpSocket"]["port"], action["tcpSocket"]["port"])
        podman.run("exec", container, "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%d" % port)
        return
    # The grpc probe: gRPC's health check, from this machine's Python in that namespace.
    pid = podman.run("inspect", "-f", "{{.State.Pid}}", container).stdout.strip()
    argv = ["nsenter", "-t", pid, "-n", "/usr/bin/python3", HEALTH_CHECK,
            "127.0.0.1:%d" % action["grpc"]["port"]]
    if action["grpc"].get("service"):
        argv.append(action["grpc"]["service"])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    check(done.stdout.strip() == "SERVING", "%s (grpc): %s%s" % (kind, done.stdout, done.stderr))


def run_manifests(podman, image, docs):
    """The broker's and each worker replica's command and args, as the kubelet runs them."""
    service = docs[("Service", "shoal-broker")]
    broker_pod = docs[("Deployment", "shoal-broker")]["spec"]["template"]["spec"]
    worker_deployment = docs[("Deployment", "shoal-worker")]
    worker_pod = worker_deployment["spec"]["template"]["spec"]
    (bc,) = broker_pod["containers"]
    (wc,) = worker_pod["containers"]
    volume = podman.tag + "-k8s-store"
    podman.volumes.append(volume)
    broker = podman.tag + "-k8s-broker"
    mount = bc["volumeMounts"][0]["mountPath"]
    # The Service name resolves to the broker, on the loopback of the namespace that every
    # container shares (Podman adds no host entries to a container that joins another's).
    hosts = os.path.join(podman.scratch, "hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost %s\n" % service["metadata"]["name"])
    resolve = ["-v", hosts + ":/etc/hosts:ro"]
    podman.start(broker, "--network=none", *resolve,
                 "-v", "%s:%s" % (volume, mount), *pod_flags(broker_pod, bc, {}),
                 "--entrypoint=" + bc["command"][0], image, *bc["command"][1:], *bc["args"])
    podman.wait_line(broker, r"^shoal-broker listening")
    for kind in ("readinessProbe", "livenessProbe"):
        probe(podman, broker, bc, kind)
    workers = []
    for i in range(worker_deployment["spec"]["replicas"]):
        name = "%s-k8s-worker%d" % (podman.tag, i)
        env = {"POD_NAME": "shoal-worker-%d" % i}
        args = [expand(a, env) for a in wc["args"]]
        flags = pod_flags(worker_pod, wc, env)
        for m in wc.get("volumeMounts", []):
            if m["mountPath"] == "/dev/shm":
                size = [v for v in worker_pod["volumes"] if v["name"] == m["name"]][0]
                flags.append("--shm-size=%d" % memory_bytes(size["emptyDir"]["sizeLimit"]))
        workers.append(name)
        podman.start(name, "--network=container:" + broker, *resolve, *flags,
                     "--entrypoint=" + wc["command"][0], image, *wc["command"][1:], *args)
        # Without --processes, one process per CPU of the limit (and of this machine).
        processes = flag(args, "processes") or min(
            len(os.sched_getaffinity(0)), math.ceil(cpu_quantity(wc["resources"]["limits"]["cpu"])))
        podman.wait_line(name, r"^shoal-worker ready name=shoal-worker-%d slots=%s\b"
                         % (i, processes))
    service_grpc = {p["name"]: p["port"] for p in service["spec"]["ports"]}["grpc"]
    address = "--broker=%s:%d" % (service["metadata"]["name"], service_grpc)
    lines = "".join("[%d]\n" % i for i in range(2000))
    out = podman.run("exec", "-i", broker, "shoal", "map", "demo.square", "--input=/dev/stdin",
                     address, stdin=lines).stdout.split()
    check(out == [str(i * i) for i in range(2000)], "map through the Service: %s" % out[:10])
    status = podman.run("exec", broker, "shoal", "workers", address).stdout
    check(all("shoal-worker-%d" % i in status for i in range(len(workers))), status)
    for name in workers:
        podman.stop(name, worker_pod["terminationGracePeriodSeconds"])
    podman.stop(broker, broker_pod["terminationGracePeriodSeconds"])
    print("manifests run: broker and %d worker replicas, read-only root, dropped capabilities, "
          "limits; a map through the Service; SIGTERM stopped all with exit 0" % len(workers))


def main():
    # Building the image runs apt-get in it (and may pull debian:12 or debootstrap one):
    # traffic beyond loopback and minutes of both cores, so only when asked for.
    if os.environ.get("SHOAL_CONTAINER_TEST") != "1":
        skip("set SHOAL_CONTAINER_TEST=1 to run it: building the image downloads Debian "
             "packages (the only test that leaves loopback)")
    if os.geteuid() != 0:
        skip("needs root (Podman with the host's storage)")
    if not shutil.which("podman"):
        skip("podman is not installed (scripts/deps.sh installs it)")
    global yaml
    try:
        import yaml
    except ImportError:
        skip("python3-yaml is not installed (scripts/deps.sh installs it)")
    # SIGTERM (a stopped run) ends in the `finally` below, which removes what it made.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    scratch = tempfile.mkdtemp(prefix="shoal-container-")
    podman = Podman(scratch)
    try:
        podman.remove_leftovers()
        base = base_image(podman)
        if not podman.settle(base):
            skip("Podman cannot run containers on this machine")
        image, user = build_images(podman, base)
        uid = shipped_image(podman, image, user)
        kustomization, docs = read_manifests()
        check_manifests(kustomization, docs, uid)
        run_manifests(podman, image, docs)
        print("deploy containers: the image and the Kubernetes manifests ran as shipped")
    finally:
        podman.close()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
