#!/usr/bin/python3
"""The deployment files agree with the daemons, so they cannot drift.

    manifests_test.py --controller BIN --agent BIN

Runs each daemon's --help and takes its flags and their SLUICE_* variables
from the usage text. Then checks:
  - deploy/k8s/*.yaml parse; every document has apiVersion, kind, name;
    kustomization.yaml lists files that exist;
  - each sluice container's environment variables and args are the
    daemon's (helpers substituted into another as $(NAME) aside;
    commented-out variables too, except those marked
    "# pending-flag: NAME": flags another change is adding; when the daemon
    lists one, the test says it may be uncommented);
  - ports named in probes, Services and SLUICE_* addresses exist on the pod;
    selectors match the pod labels; Secrets referenced are in
    secrets.example.yaml; the pods run as non-root with resource requests;
    the NetworkPolicy lets only agents reach the controller's ZeroMQ port;
  - deploy/packaging/*.env.in name every SLUICE_* variable of their daemon,
    and nothing else;
  - deploy/docker/*.Dockerfile: Debian 12, multi-stage, no build tools in
    the final stage, a numeric non-root USER the manifests run as, the
    daemon as ENTRYPOINT (docker cannot run here: structure only).
"""

import argparse
import glob
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                     "..", ".."))
K8S = os.path.join(ROOT, "deploy", "k8s")
# Read from the environment by a daemon, not a flag (controller/main.cc).
EXTRA_ENV = {"controller": {"SLUICE_ADMIN_TOKEN"}, "agent": set()}
errors = []
notes = []


def error(message):
    errors.append(message)


def usage(binary):
    """{flag: env} from `binary --help`."""
    text = subprocess.run([binary, "--help"], capture_output=True, text=True,
                          timeout=30, check=True).stdout
    flags = {}
    current = None
    for line in text.split("\n"):
        match = re.match(r"^  --([a-z0-9-]+)", line)
        if match:
            current = match.group(1)
            flags[current] = None
        env = re.search(r"\(env (SLUICE_[A-Z0-9_]+)\)", line)
        if env and current:
            flags[current] = env.group(1)
    if len(flags) < 5:
        raise SystemExit(f"{binary} --help listed only {flags}")
    return flags


def load_k8s():
    docs = []
    for path in sorted(glob.glob(os.path.join(K8S, "*.yaml"))):
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc is None:
                    continue
                name = doc.get("metadata", {}).get("name")
                if not doc.get("apiVersion") or not doc.get("kind"):
                    error(f"{path}: a document without apiVersion or kind")
                elif doc["kind"] != "Kustomization" and not name:
                    error(f"{path}: a {doc['kind']} without metadata.name")
                docs.append((path, doc))
    if len(docs) < 6:
        error(f"only {len(docs)} documents in deploy/k8s")
    return docs


def pending_and_commented(path):
    """SLUICE_* names in commented-out env entries, and the pending ones."""
    commented, pending = set(), set()
    with open(path) as f:
        for line in f:
            match = re.match(r"\s*#\s*pending-flag:\s*(SLUICE_[A-Z0-9_]+)", line)
            if match:
                pending.add(match.group(1))
                continue
            match = re.match(r"\s*#.*\bname:\s*(SLUICE_[A-Z0-9_]+)", line)
            if match:
                commented.add(match.group(1))
    return commented, pending


def daemon_of(container):
    image = container.get("image", "")
    for daemon in ("controller", "agent"):
        if f"sluice-{daemon}" in image:
            return daemon
    return None


def check_workloads(docs, flags):
    secrets = {}
    for path, doc in docs:
        if doc["kind"] == "Secret" and path.endswith("secrets.example.yaml"):
            keys = set(doc.get("stringData", {})) | set(doc.get("data", {}))
            secrets[doc["metadata"]["name"]] = keys
    for path, doc in docs:
        if path.endswith("secrets.example.yaml") and doc["kind"] != "Secret":
            error(f"{path}: only Secrets belong in the example")
    workloads = [(p, d) for p, d in docs if d["kind"] in ("Deployment", "DaemonSet")]
    seen = set()
    pod_labels = {}
    for path, doc in workloads:
        spec = doc["spec"]
        template = spec["template"]
        labels = template["metadata"]["labels"]
        for key, value in spec["selector"]["matchLabels"].items():
            if labels.get(key) != value:
                error(f"{path}: selector {key}={value} does not match the pod")
        pod = template["spec"]
        if not pod.get("securityContext", {}).get("runAsNonRoot"):
            error(f"{path}: the pod does not set runAsNonRoot")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for volume in volumes.values():
            if "secret" in volume and volume["secret"]["secretName"] not in secrets:
                error(f"{path}: volume {volume['name']}: Secret "
                      f"{volume['secret']['secretName']} is not in secrets.example.yaml")
        for container in pod.get("containers", []):
            daemon = daemon_of(container)
            if daemon is None:
                error(f"{path}: container {container['name']} runs no sluice image")
                continue
            seen.add(daemon)
            pod_labels[daemon] = labels
            allowed = {env for env in flags[daemon].values() if env}
            allowed |= EXTRA_ENV[daemon]
            # Kubernetes substitutes $(NAME) in a value with an earlier
            # variable: such helpers (POD_IP) are not the daemon's, but
            # every SLUICE_* name must be.
            substituted = {name for item in container.get("env", [])
                           for name in re.findall(r"\$\(([A-Z0-9_]+)\)",
                                                  str(item.get("value") or ""))
                           if not name.startswith("SLUICE_")}
            env = {}
            for item in container.get("env", []):
                env[item["name"]] = item.get("value")
                if item["name"] not in allowed | substituted:
                    error(f"{path}: {daemon} has no environment variable "
                          f"{item['name']} (sluice-{daemon} --help)")
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["key"] not in secrets.get(ref["name"], set()):
                    error(f"{path}: {item['name']} reads Secret {ref['name']} "
                          f"key {ref['key']}, not in secrets.example.yaml")
            for arg in container.get("args", []) + container.get("command", [])[1:]:
                match = re.match(r"--([a-z0-9-]+)", str(arg))
                if match and match.group(1) not in flags[daemon]:
                    error(f"{path}: {daemon} has no flag --{match.group(1)}")
            ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
            for key, value in env.items():
                match = re.search(r":(\d+)$", value or "")
                if match and key in ("SLUICE_HTTP", "SLUICE_AGENTS", "SLUICE_METRICS") \
                        and int(match.group(1)) not in ports.values():
                    error(f"{path}: {key}={value} is not a containerPort")
            for probe_name in ("readinessProbe", "livenessProbe"):
                probe = container.get(probe_name)
                if not probe:
                    error(f"{path}: {daemon} has no {probe_name}")
                    continue
                port = (probe.get("httpGet") or probe.get("tcpSocket") or {}).get("port")
                if port is not None and port not in ports:
                    error(f"{path}: {probe_name} uses port {port}, not a named port")
            if daemon == "controller":
                if container["readinessProbe"].get("httpGet", {}).get("path") != "/readyz":
                    error(f"{path}: the controller's readiness is not /readyz")
                if container["livenessProbe"].get("httpGet", {}).get("path") != "/healthz":
                    error(f"{path}: the controller's liveness is not /healthz")
            if not container.get("resources", {}).get("requests"):
                error(f"{path}: {daemon} has no resource requests")
            for mount in container.get("volumeMounts", []):
                if mount["name"] not in volumes:
                    error(f"{path}: mount {mount['name']} has no volume")
        if doc["kind"] == "DaemonSet":
            socket_dir = [v for v in volumes.values() if "hostPath" in v]
            if not socket_dir:
                error(f"{path}: the agent shares its socket through no hostPath")
    if seen != {"controller", "agent"}:
        error(f"workloads found for {sorted(seen)}, expected controller and agent")
    return pod_labels


def check_services_and_policy(docs, pod_labels):
    controller_ports = {}
    for path, doc in docs:
        if doc["kind"] == "Deployment":
            for c in doc["spec"]["template"]["spec"]["containers"]:
                controller_ports.update({p["name"]: p["containerPort"]
                                         for p in c.get("ports", [])})
    kinds = {doc["kind"] for _, doc in docs}
    for kind in ("Service", "NetworkPolicy", "PodDisruptionBudget", "Namespace"):
        if kind not in kinds:
            error(f"deploy/k8s has no {kind}")
    for path, doc in docs:
        if doc["kind"] == "Service":
            for port in doc["spec"]["ports"]:
                if port["targetPort"] not in controller_ports:
                    error(f"{path}: Service port {port['name']} targets "
                          f"{port['targetPort']}, not a controller port")
        if doc["kind"] == "PodDisruptionBudget":
            selector = doc["spec"]["selector"]["matchLabels"]
            if not any(all(labels.get(k) == v for k, v in selector.items())
                       for labels in pod_labels.values()):
                error(f"{path}: the PodDisruptionBudget selects no pod")
        if doc["kind"] != "NetworkPolicy":
            continue
        spec = doc["spec"]
        if spec["podSelector"]["matchLabels"] != {
                k: v for k, v in pod_labels["controller"].items()
                if k in spec["podSelector"]["matchLabels"]}:
            error(f"{path}: the policy does not select the controller")
        zmq = controller_ports.get("agents")
        for rule in spec.get("ingress", []):
            if not any(p.get("port") in (zmq, "agents") for p in rule.get("ports", [])):
                continue
            sources = rule.get("from")
            if not sources:
                error(f"{path}: port {zmq} is open to every pod")
                continue
            for source in sources:
                match = source.get("podSelector", {}).get("matchLabels", {})
                agent = pod_labels["agent"]
                if not match or any(agent.get(k) != v for k, v in match.items()):
                    error(f"{path}: port {zmq} is open to pods other than agents")


def check_kustomization():
    with open(os.path.join(K8S, "kustomization.yaml")) as f:
        kustomization = yaml.safe_load(f)
    for resource in kustomization["resources"]:
        if not os.path.exists(os.path.join(K8S, resource)):
            error(f"kustomization.yaml lists {resource}, which does not exist")
    if "secrets.example.yaml" in kustomization["resources"]:
        error("kustomization.yaml must not apply the placeholder Secrets")


def check_commented(flags):
    every = set().union(*[{e for e in f.values() if e} for f in flags.values()])
    every |= set().union(*EXTRA_ENV.values())
    for path in sorted(glob.glob(os.path.join(K8S, "*.yaml"))):
        commented, pending = pending_and_commented(path)
        for name in sorted(commented - pending):
            if name not in every:
                error(f"{path}: commented-out {name} is no daemon's variable")
        for name in sorted(pending):
            if name in every:
                notes.append(f"{path}: {name} is a flag now: uncomment it "
                             "(and remove its pending-flag line)")
            else:
                notes.append(f"{path}: {name} is pending (not in --help yet)")


def check_env_files(flags):
    for daemon in ("controller", "agent"):
        path = os.path.join(ROOT, "deploy", "packaging", f"{daemon}.env.in")
        with open(path) as f:
            text = f.read()
        named = set(re.findall(r"^#?(SLUICE_[A-Z0-9_]+)=", text, re.M))
        expected = {e for e in flags[daemon].values() if e} | EXTRA_ENV[daemon]
        for name in sorted(expected - named):
            error(f"{path}: no line for {name}")
        for name in sorted(named - expected):
            error(f"{path}: {name} is not a variable of sluice-{daemon}")


BUILD_TOOLS = re.compile(r"\b(build-essential|cmake|g\+\+|gcc|clang|make|"
                         r"pkg-config|git|[a-z0-9.+-]+-dev)\b")


def check_dockerfiles(run_as):
    for daemon in ("controller", "agent"):
        path = os.path.join(ROOT, "deploy", "docker", f"{daemon}.Dockerfile")
        with open(path) as f:
            lines = f.read().replace("\\\n", " ").split("\n")
        stages = []
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            instruction, _, rest = line.partition(" ")
            if instruction.upper() == "FROM":
                stages.append({"from": rest, "lines": []})
            elif stages:
                stages[-1]["lines"].append((instruction.upper(), rest))
        if len(stages) < 2:
            error(f"{path}: not multi-stage ({len(stages)} FROM)")
            continue
        for stage in stages:
            if not re.match(r"debian:(12|bookworm)(-slim)?\b", stage["from"]):
                error(f"{path}: FROM {stage['from']} is not Debian 12")
        final = stages[-1]["lines"]
        for instruction, rest in final:
            if instruction == "RUN" and "apt-get install" in rest:
                for tool in BUILD_TOOLS.findall(rest):
                    error(f"{path}: the final stage installs {tool}")
        copies = [r for i, r in final if i == "COPY"]
        if not any(r.startswith("--from=") for r in copies):
            error(f"{path}: the final stage copies nothing from the build stage")
        users = [r for i, r in final if i == "USER"]
        if not users or not re.match(r"^\d+(:\d+)?$", users[-1]) \
                or users[-1].split(":")[0] == "0":
            error(f"{path}: the final stage needs a numeric non-root USER, got {users}")
        elif int(users[-1].split(":")[0]) != run_as:
            error(f"{path}: USER {users[-1]} but the manifests run as {run_as}")
        entry = [r for i, r in final if i == "ENTRYPOINT"]
        if entry != [f'["/usr/bin/sluice-{daemon}"]']:
            error(f"{path}: ENTRYPOINT should be /usr/bin/sluice-{daemon}, got {entry}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--controller", required=True)
    parser.add_argument("--agent", required=True)
    args = parser.parse_args()
    flags = {"controller": usage(args.controller), "agent": usage(args.agent)}
    for daemon, table in flags.items():
        for flag, env in table.items():
            if not env:
                error(f"sluice-{daemon} --{flag} has no environment variable")
    docs = load_k8s()
    check_kustomization()
    pod_labels = check_workloads(docs, flags)
    if set(pod_labels) == {"controller", "agent"}:
        check_services_and_policy(docs, pod_labels)
    check_commented(flags)
    check_env_files(flags)
    run_as = {d["spec"]["template"]["spec"]["securityContext"].get("runAsUser")
              for _, d in docs if d["kind"] in ("Deployment", "DaemonSet")}
    check_dockerfiles(run_as.pop() if len(run_as) == 1 else -1)
    for note in notes:
        print("manifests_test: note: " + note)
    for message in errors:
        print("manifests_test: " + message, file=sys.stderr)
    print(f"manifests_test: {len(docs)} manifests, {sum(len(f) for f in flags.values())}"
          f" flags: " + ("ok" if not errors else f"{len(errors)} errors"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
