"""A StatefulSet canary from Python: the sts-canary component package, moved by stack config.

Not run on the local platform (no Python language host can be built there); with a standard
Pulumi CLI: `pulumi package add ../../components && pulumi up`.
"""
import pulumi
import pulumi_sts_canary as sts_canary

config = pulumi.Config()
base_image = config.get("baseImage") or "nginx:latest"
canary = sts_canary.StatefulSetCanary(
    "canary",
    name="web",
    namespace=config.get("namespace") or "sts-python",
    version=config.get("imageTag") or "v1",
    partition=config.get_int("partition") or 0,
    replicas=3,
    images={
        "v1": sts_canary.ImageSourceArgsArgs(version_page=sts_canary.VersionPageArgsArgs(base_image=base_image)),
        "v2": sts_canary.ImageSourceArgsArgs(version_page=sts_canary.VersionPageArgsArgs(base_image=base_image)),
    },
    registry=sts_canary.RegistryArgsArgs(
        server=config.require("registryServer"),
        repository="library/version-test",
        username="admin",
        password=config.require_secret("registryPassword"),
    ),
    image_builder=config.get("imageBuilder") or "pulumi-docker",
    container="nginx",
    # A Kubernetes PodSpec in its own shape (a map in the schema).
    pod_spec={
        "containers": [{
            "name": "nginx",
            "ports": [{"name": "web", "containerPort": 80}],
            "readinessProbe": {"httpGet": {"path": "/version.html", "port": 80}, "periodSeconds": 2},
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "200m", "memory": "64Mi"}},
        }],
    },
    service=sts_canary.ServiceArgsArgs(
        type="NodePort",
        ports=[{"name": "web", "port": 80, "targetPort": "web", "nodePort": config.get_int("nodePort") or 30083}],
    ),
)

pulumi.export("images", canary.images)
pulumi.export("ordinal_versions", canary.ordinal_versions)
pulumi.export("step", canary.step)
pulumi.export("stsCanary", canary.contract)
