"""A StatefulSet canary from Python: the sts-canary component package, moved by stack config."""
import pulumi
import pulumi_sts_canary as sts_canary

config = pulumi.Config()
canary = sts_canary.StatefulSetCanary(
    "canary",
    app_name="web",
    namespace=config.get("namespace") or "sts-python",
    versions=["v1", "v2"],
    image_tag=config.get("imageTag") or "v1",
    # The TypeScript program derives this from its last deployment; here it is stack config.
    stable_tag=config.get("stableTag") or "v1",
    partition=config.get_int("partition") or 0,
    replicas=3,
    registry_server=config.require("registryServer"),
    registry_password=config.require_secret("registryPassword"),
    base_image=config.get("baseImage") or "nginx:latest",
    image_builder=config.get("imageBuilder") or "pulumi-docker",
    node_port=config.get_int("nodePort") or 30083,
)

pulumi.export("images", canary.images)
pulumi.export("ordinal_versions", canary.ordinal_versions)
pulumi.export("node_port_url", canary.node_port_url)
