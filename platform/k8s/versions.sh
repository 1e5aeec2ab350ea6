# Versions and image names shared by platform/build-k8s.sh and platform/cluster.sh.
# Keep in sync with the wrapper modules' go.mod files (build-k8s.sh checks).
K8S_VERSION=v1.34.4
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
CRICTL_VERSION=v1.34.0
LOCAL_PATH_VERSION=v0.0.30   # rancher/local-path-provisioner (dynamic PVs, platform/storage.sh)
PAUSE_VERSION=3.10-sts1
# Local images (no public registry is reachable): imported into the cluster containerd.
PAUSE_IMAGE="sts-canary.local/pause:$PAUSE_VERSION"
BUSYBOX_IMAGE="sts-canary.local/busybox:1.35"
