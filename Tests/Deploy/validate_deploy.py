"""Validates the deployment files in Deploy/ offline, against the schemas and against the server.

- Deploy/kubernetes.yaml and Deploy/hpa.yaml: every document against the Kubernetes OpenAPI
  schemas of kubernetes-validate (strict: an unknown field is an error, as `kubectl apply
  --validate=strict` makes it), for the oldest and the newest Kubernetes version checked.
- Deploy/kserve-inferenceservice.yaml: KServe's CRD schema is not in the Kubernetes schemas, so the
  InferenceService's own fields are checked against the v1beta1 fields this sample uses, and each
  predictor container against the core/v1 Container schema (wrapped in a Pod, strict).
- Probes and scrape paths: every HTTP path named in a manifest is a route in the server's OpenAPI
  document (--openapi, fetched from the running server), on the port the image listens on.
- Deploy/prometheus.yml and Deploy/prometheus-rules.yml: `promtool check config` (which checks the
  rule file it names too), and every rcnn_ metric the rules or manifests name is one the server
  exports (--metrics, fetched from the running server's /metrics).

Prints one line per check and exits 1 on any failure. Run by CLITests.testDeploymentManifestsValidate.
"""
import argparse
import json
import os
import re
import subprocess
import sys

import kubernetes_validate
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(ROOT, "Deploy")
K8S_VERSIONS = ("1.27.0", "1.34.0")
IMAGE_PORT = 8080

failures = []


def check(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'}  {name}" + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(name)


def load_all(name):
    with open(os.path.join(DEPLOY, name)) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def validate_k8s(doc, where):
    for version in K8S_VERSIONS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
            check(f"{where} {doc['kind']}/{doc['metadata']['name']} valid for Kubernetes {version}", True)
        except Exception as e:  # ValidationError, SchemaNotFoundError, InvalidSchemaError
            check(f"{where} {doc.get('kind')}/{doc.get('metadata', {}).get('name')} valid for Kubernetes {version}",
                  False, str(e).splitlines()[0][:300])


def http_paths(node):
    """(path, port) of every httpGet in a manifest tree."""
    if isinstance(node, dict):
        if "httpGet" in node:
            yield node["httpGet"].get("path"), node["httpGet"].get("port")
        for v in node.values():
            yield from http_paths(v)
    elif isinstance(node, list):
        for v in node:
            yield from http_paths(v)


KSERVE_TOP = {"apiVersion", "kind", "metadata", "spec"}
KSERVE_SPEC = {"predictor", "transformer", "explainer"}
# Fields of v1beta1 PredictorSpec: its ComponentExtensionSpec, the pod spec fields it inlines, and
# the model-format slots (only a custom `containers` list is used here).
KSERVE_PREDICTOR = {
    "minReplicas", "maxReplicas", "scaleMetric", "scaleTarget", "containerConcurrency", "timeout",
    "canaryTrafficPercent", "logger", "batcher", "labels", "annotations", "deploymentStrategy",
    "containers", "serviceAccountName", "nodeSelector", "tolerations", "affinity", "volumes",
    "imagePullSecrets", "securityContext", "initContainers", "priorityClassName", "model",
}
KSERVE_SCALE_METRICS = {"cpu", "memory", "concurrency", "rps"}


def check_kserve(doc):
    where = "kserve-inferenceservice.yaml"
    check(f"{where}: apiVersion serving.kserve.io/v1beta1, kind InferenceService",
          doc.get("apiVersion") == "serving.kserve.io/v1beta1" and doc.get("kind") == "InferenceService")
    check(f"{where}: only InferenceService fields", set(doc) <= KSERVE_TOP, str(set(doc) - KSERVE_TOP))
    name = doc.get("metadata", {}).get("name", "")
    check(f"{where}: name is a DNS-1035 label", re.fullmatch(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", name) is not None, name)
    spec = doc.get("spec", {})
    check(f"{where}: spec fields", set(spec) <= KSERVE_SPEC and "predictor" in spec, str(set(spec)))
    pred = spec.get("predictor", {})
    check(f"{where}: predictor fields", set(pred) <= KSERVE_PREDICTOR, str(set(pred) - KSERVE_PREDICTOR))
    check(f"{where}: scaleMetric", pred.get("scaleMetric", "cpu") in KSERVE_SCALE_METRICS, str(pred.get("scaleMetric")))
    lo, hi = pred.get("minReplicas", 1), pred.get("maxReplicas", 1)
    check(f"{where}: 1 <= minReplicas <= maxReplicas", isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi, f"{lo}, {hi}")
    containers = pred.get("containers", [])
    check(f"{where}: one custom container named kserve-container",
          len(containers) == 1 and containers[0].get("name") == "kserve-container")
    for c in containers:
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kserve-predictor"}, "spec": {"containers": [c]}}
        validate_k8s(pod, f"{where} predictor container as a")
        ports = [p.get("containerPort") for p in c.get("ports", [])]
        check(f"{where}: the container port is the image's {IMAGE_PORT}", ports == [IMAGE_PORT], str(ports))
        for key in ("requests", "limits"):
            check(f"{where}: resources.{key} cpu and memory", {"cpu", "memory"} <= set(c.get("resources", {}).get(key, {})))
    anns = doc.get("metadata", {}).get("annotations", {})
    check(f"{where}: Prometheus scraping annotations name the image's port and /metrics",
          anns.get("prometheus.kserve.io/port") == str(IMAGE_PORT) and anns.get("prometheus.kserve.io/path") == "/metrics")
    return [p for p in http_paths(doc)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--openapi", required=True, help="the server's /openapi.json, saved")
    ap.add_argument("--metrics", required=True, help="the server's /metrics, saved")
    ap.add_argument("--promtool", default="promtool")
    args = ap.parse_args()
    with open(args.openapi) as f:
        routes = set(json.load(f)["paths"])
    with open(args.metrics) as f:
        exported = set(re.findall(r"^# TYPE (\S+) ", f.read(), re.M))
    check("the server exports rcnn_ metrics", any(m.startswith("rcnn_") for m in exported), str(sorted(exported))[:200])

    probes = []
    kinds = []
    for name in ("kubernetes.yaml", "hpa.yaml"):
        for doc in load_all(name):
            kinds.append(doc["kind"])
            validate_k8s(doc, name)
            probes += list(http_paths(doc))
            if doc["kind"] == "Deployment":
                pod = doc["spec"]["template"]
                anns = pod["metadata"].get("annotations", {})
                check("kubernetes.yaml: prometheus.io annotations name the image's port and a served path",
                      anns.get("prometheus.io/port") == str(IMAGE_PORT) and anns.get("prometheus.io/path") in routes)
                ports = [p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports", [])]
                check(f"kubernetes.yaml: the container port is the image's {IMAGE_PORT}", ports == [IMAGE_PORT], str(ports))
            if doc["kind"] == "HorizontalPodAutoscaler":
                target = doc["spec"]["scaleTargetRef"]
                check("hpa.yaml: scales the Deployment rcnn", target["kind"] == "Deployment" and target["name"] == "rcnn")
    check("kubernetes.yaml + hpa.yaml: a Deployment, Services and an HPA",
          {"Deployment", "Service", "HorizontalPodAutoscaler"} <= set(kinds), str(kinds))
    for doc in load_all("kserve-inferenceservice.yaml"):
        probes += check_kserve(doc)

    check("manifests have HTTP probes", len(probes) >= 6, str(probes))
    for path, port in probes:
        check(f"probe {path} is a served route on the image's port", path in routes and port in ("http", IMAGE_PORT),
              f"{path} on {port}")

    result = subprocess.run([args.promtool, "check", "config", os.path.join(DEPLOY, "prometheus.yml")],
                            capture_output=True, text=True)
    check("promtool check config Deploy/prometheus.yml (and its rule file)", result.returncode == 0,
          (result.stdout + result.stderr).strip()[-400:])
    with open(os.path.join(DEPLOY, "prometheus.yml")) as f:
        prom = yaml.safe_load(f)
    check("prometheus.yml names prometheus-rules.yml", "prometheus-rules.yml" in prom.get("rule_files", []))
    dns = [n for job in prom["scrape_configs"] for sd in job.get("dns_sd_configs", []) for n in sd["names"]]
    services = [d["metadata"]["name"] for d in load_all("kubernetes.yaml") if d["kind"] == "Service"
                and d["spec"].get("clusterIP") == "None"]
    check("prometheus.yml discovers pods through kubernetes.yaml's headless Service",
          any(n.split(".")[0] in services for n in dns), f"{dns} vs {services}")

    named = set()
    for name in ("prometheus-rules.yml", "hpa.yaml", "kserve-inferenceservice.yaml", "kubernetes.yaml"):
        with open(os.path.join(DEPLOY, name)) as f:
            named |= set(re.findall(r"\brcnn_[a-z_]+", f.read()))
    named = {re.sub(r"_(bucket|sum|count)$", "", m) for m in named}
    check("the rules name rcnn_ metrics", len(named) >= 3, str(named))
    for m in sorted(named):
        check(f"{m} is exported by the server", m in exported)

    print(f"{len(failures)} failed check(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
