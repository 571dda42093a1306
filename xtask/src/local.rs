//! `cargo xtask local-up` / `local-down`: a real single-node Kubernetes
//! without Docker, from the upstream binaries of `cargo xtask testenv` and
//! Debian's containerd, runc and CNI plugins.
//!
//! Everything it makes lives in `target/local/` (certificates, configs,
//! logs, pid files), `/var/lib/minitask-local/` (containerd and kubelet
//! state) and `/run/minitask-local/`, plus the `cni0` bridge and one
//! iptables rule; `local-down` removes all of it.

use crate::daemon::{Daemons, tail, wait_for};
use crate::{images, testenv};
use anyhow::{Context, bail};
use minitask_testenv::pki::{Ca, signing_key, write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use xshell::{Shell, cmd};

const NODE: &str = "minitask-node";
const NODE_IP: &str = "10.88.0.1";
const POD_CIDR: &str = "10.88.0.0/16";
const BRIDGE: &str = "cni0";
const SERVICE_CIDR: &str = "10.0.0.0/24";
/// The `kubernetes` Service's ClusterIP: the first address of SERVICE_CIDR.
const API_SERVICE_IP: &str = "10.0.0.1";
const API_PORT: u16 = 6443;
const ETCD_PORT: u16 = 12379;
const ETCD_PEER_PORT: u16 = 12380;
const VAR_DIR: &str = "/var/lib/minitask-local";
const RUN_DIR: &str = "/run/minitask-local";
const SOCKET: &str = "/run/minitask-local/containerd.sock";
/// Where kube-controller-manager's host-path provisioner makes volumes (it
/// is fixed upstream: `/tmp/hostpath_pv/<uuid>`).
const HOSTPATH_DIR: &str = "/tmp/hostpath_pv";
/// The default StorageClass, provisioned by that provisioner.
const STORAGE_CLASS: &str = "apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local-hostpath
  annotations:
    storageclass.kubernetes.io/is-default-class: \"true\"
provisioner: kubernetes.io/host-path
reclaimPolicy: Delete
volumeBindingMode: Immediate
";
/// Stopped in this order: the node before the control plane.
const DAEMONS: [&str; 6] = [
    "kubelet",
    "kube-scheduler",
    "kube-controller-manager",
    "kube-apiserver",
    "etcd",
    "containerd",
];

pub fn state_dir(root: &Path) -> PathBuf {
    root.join("target/local")
}

pub fn kubeconfig(root: &Path) -> PathBuf {
    state_dir(root).join("admin.kubeconfig")
}

/// True when the local cluster's API server answers.
pub fn is_up(root: &Path) -> bool {
    let daemons = Daemons::new(&state_dir(root));
    DAEMONS.iter().all(|d| daemons.running(d).is_some()) && api_ready(root)
}

pub fn up(root: &Path) -> anyhow::Result<()> {
    if is_up(root) {
        println!(
            "the local cluster is already up:\n  export KUBECONFIG={}",
            kubeconfig(root).display()
        );
        return Ok(());
    }
    if !is_root() {
        bail!("local-up runs containerd and a kubelet, which need root");
    }
    install_packages()?;
    let bin = testenv::ensure(root)?;
    let state = state_dir(root);
    let daemons = Daemons::new(&state);
    std::fs::create_dir_all(&state)?;
    let pki = state.join("pki");
    if !pki.join("ca.crt").is_file() {
        write_pki(&pki)?;
    }
    network(root)?;

    daemons.start(
        "containerd",
        Path::new("/usr/bin/containerd"),
        &["--config".into(), containerd_config(root)?],
    )?;
    wait_for("containerd", Duration::from_secs(30), || Path::new(SOCKET).exists())?;
    for archive in images::local(root)? {
        import_image(&archive)?;
    }

    let p = |name: &str| pki.join(name).display().to_string();
    let etcd_url = format!("http://127.0.0.1:{ETCD_PORT}");
    let peer_url = format!("http://127.0.0.1:{ETCD_PEER_PORT}");
    let etcd_args = [
        format!("--data-dir={VAR_DIR}/etcd"),
        format!("--listen-client-urls={etcd_url}"),
        format!("--advertise-client-urls={etcd_url}"),
        format!("--listen-peer-urls={peer_url}"),
        format!("--initial-advertise-peer-urls={peer_url}"),
        format!("--initial-cluster=default={peer_url}"),
        "--log-level=warn".into(),
    ];
    daemons.start("etcd", &bin.join("etcd"), &etcd_args)?;

    let apiserver_args = [
        format!("--etcd-servers={etcd_url}"),
        format!("--secure-port={API_PORT}"),
        format!("--advertise-address={NODE_IP}"),
        format!("--client-ca-file={}", p("ca.crt")),
        format!("--tls-cert-file={}", p("apiserver.crt")),
        format!("--tls-private-key-file={}", p("apiserver.key")),
        format!("--kubelet-client-certificate={}", p("apiserver-kubelet-client.crt")),
        format!("--kubelet-client-key={}", p("apiserver-kubelet-client.key")),
        "--kubelet-preferred-address-types=InternalIP".into(),
        "--authorization-mode=Node,RBAC".into(),
        "--enable-admission-plugins=NodeRestriction".into(),
        format!("--service-account-key-file={}", p("sa.pub")),
        format!("--service-account-signing-key-file={}", p("sa.key")),
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
        format!("--service-cluster-ip-range={SERVICE_CIDR}"),
        "--allow-privileged=true".into(),
        format!("--requestheader-client-ca-file={}", p("front-proxy-ca.crt")),
        format!(
            "--requestheader-allowed-names={}",
            minitask_testenv::pki::FRONT_PROXY_NAME
        ),
        "--requestheader-username-headers=X-Remote-User".into(),
        "--requestheader-group-headers=X-Remote-Group".into(),
        "--requestheader-extra-headers-prefix=X-Remote-Extra-".into(),
        format!("--proxy-client-cert-file={}", p("front-proxy-client.crt")),
        format!("--proxy-client-key-file={}", p("front-proxy-client.key")),
        // No kube-proxy on the host: reach an APIService's pods by their IPs
        // (the pod bridge is on this host).
        "--enable-aggregator-routing=true".into(),
    ];
    daemons.start("kube-apiserver", &bin.join("kube-apiserver"), &apiserver_args)?;
    wait_for("kube-apiserver", Duration::from_secs(90), || {
        daemons.running("kube-apiserver").is_some() && api_ready(root)
    })
    .or_else(|e| daemons.check("kube-apiserver").and(Err(e)))?;

    let kubeconfig_of = |name: &str| state.join(format!("{name}.kubeconfig")).display().to_string();
    let controller_manager_args = [
        format!("--kubeconfig={}", kubeconfig_of("controller-manager")),
        format!("--authentication-kubeconfig={}", kubeconfig_of("controller-manager")),
        format!("--authorization-kubeconfig={}", kubeconfig_of("controller-manager")),
        format!("--service-account-private-key-file={}", p("sa.key")),
        format!("--root-ca-file={}", p("ca.crt")),
        format!("--cluster-signing-cert-file={}", p("ca.crt")),
        format!("--cluster-signing-key-file={}", p("ca.key")),
        "--use-service-account-credentials=true".into(),
        "--leader-elect=false".into(),
        "--bind-address=127.0.0.1".into(),
        // Claims (a PipelineRun's volumeClaimTemplate) get host-path
        // volumes under HOSTPATH_DIR: the upstream way for one node.
        "--enable-hostpath-provisioner=true".into(),
    ];
    daemons.start(
        "kube-controller-manager",
        &bin.join("kube-controller-manager"),
        &controller_manager_args,
    )?;
    let scheduler_args = [
        format!("--kubeconfig={}", kubeconfig_of("scheduler")),
        format!("--authentication-kubeconfig={}", kubeconfig_of("scheduler")),
        format!("--authorization-kubeconfig={}", kubeconfig_of("scheduler")),
        "--leader-elect=false".into(),
        "--bind-address=127.0.0.1".into(),
    ];
    daemons.start("kube-scheduler", &bin.join("kube-scheduler"), &scheduler_args)?;

    let kubelet_args = [
        format!("--config={}", kubelet_config(root)?),
        format!("--kubeconfig={}", kubeconfig_of("kubelet")),
        format!("--root-dir={VAR_DIR}/kubelet"),
        format!("--hostname-override={NODE}"),
        format!("--node-ip={NODE_IP}"),
    ];
    daemons.start("kubelet", &bin.join("kubelet"), &kubelet_args)?;
    wait_node_ready(root).or_else(|e| daemons.check("kubelet").and(Err(e)))?;
    storage_class(root)?;
    for daemon in DAEMONS {
        daemons.check(daemon)?;
    }
    println!(
        "the local cluster is up; use it with:\n  export KUBECONFIG={}",
        kubeconfig(root).display()
    );
    Ok(())
}

pub fn down(root: &Path) -> anyhow::Result<()> {
    let state = state_dir(root);
    let daemons = Daemons::new(&state);
    for daemon in DAEMONS {
        daemons.stop(daemon);
    }
    // containerd's shims outlive it, and the pods' processes outlive their
    // shims: find those through the kubelet's cgroups.
    for pid in pids_with_cmdline(SOCKET) {
        crate::daemon::kill(pid, Duration::from_secs(5));
    }
    remove_pod_cgroups();
    unmount_under(&[VAR_DIR, RUN_DIR, "/run/netns/cni-", "/var/run/netns/cni-"]);
    for netns in std::fs::read_dir("/run/netns").into_iter().flatten().flatten() {
        if netns.file_name().to_string_lossy().starts_with("cni-") {
            let _ = std::fs::remove_file(netns.path());
        }
    }
    let sh = Shell::new()?;
    let _ = cmd!(sh, "ip link delete {BRIDGE}").quiet().ignore_stderr().run();
    let rule = service_rule();
    let _ = cmd!(sh, "iptables -t nat -D {rule...}").quiet().ignore_stderr().run();
    for dir in [VAR_DIR, RUN_DIR, HOSTPATH_DIR, "/var/lib/cni/networks/minitask"] {
        let _ = std::fs::remove_dir_all(dir);
    }
    let _ = std::fs::remove_dir_all(&state);
    let left = leftovers(root);
    if !left.is_empty() {
        bail!("local-down could not remove: {}", left.join(", "));
    }
    println!("the local cluster is down, and nothing it made is left");
    Ok(())
}

/// What `local-down` should have removed but did not: processes, mounts,
/// cgroups, directories, the bridge and the iptables rule.
fn leftovers(root: &Path) -> Vec<String> {
    let mut left: Vec<String> = [SOCKET, VAR_DIR, &state_dir(root).display().to_string()]
        .iter()
        .flat_map(|needle| pids_with_cmdline(needle))
        .filter(|pid| !crate::daemon::is_zombie(*pid) && *pid != std::process::id() as i32)
        .map(|pid| format!("process {pid}"))
        .collect();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mounts = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(VAR_DIR) || m.starts_with(RUN_DIR));
    left.extend(mounts.map(|m| format!("mount {m}")));
    let dirs = [
        VAR_DIR.to_string(),
        RUN_DIR.to_string(),
        HOSTPATH_DIR.to_string(),
        state_dir(root).display().to_string(),
    ];
    left.extend(
        dirs.iter()
            .filter(|d| Path::new(d).exists())
            .map(|d| format!("directory {d}")),
    );
    left.extend(cgroup_trees().iter().map(|t| format!("cgroup {}", t.display())));
    if Path::new(&format!("/sys/class/net/{BRIDGE}")).exists() {
        left.push(format!("bridge {BRIDGE}"));
    }
    let rule = service_rule();
    if Shell::new().is_ok_and(|sh| {
        cmd!(sh, "iptables -t nat -C {rule...}")
            .quiet()
            .ignore_stderr()
            .run()
            .is_ok()
    }) {
        left.push("iptables rule for the kubernetes Service".into());
    }
    left
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn install_packages() -> anyhow::Result<()> {
    crate::packages::ensure(&[
        ("/usr/bin/containerd", "containerd"),
        ("/usr/sbin/runc", "runc"),
        ("/usr/lib/cni/bridge", "containernetworking-plugins"),
        ("/bin/busybox", "busybox-static"),
        ("/usr/sbin/iptables", "iptables"),
        ("/usr/sbin/ip", "iproute2"),
    ])
    .context("installing the node's packages")
}

/// The bridge the pods attach to (made here so the API server can
/// advertise its address before the first pod exists), and a DNAT rule
/// that sends the `kubernetes` Service's ClusterIP to the API server, as
/// kube-proxy would for this one Service.
fn network(root: &Path) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    if cmd!(sh, "ip link show {BRIDGE}")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_err()
    {
        cmd!(sh, "ip link add {BRIDGE} type bridge").run()?;
        cmd!(sh, "ip addr add {NODE_IP}/16 dev {BRIDGE}").run()?;
    }
    cmd!(sh, "ip link set {BRIDGE} up").run()?;
    let rule = service_rule();
    let check = rule.clone();
    if cmd!(sh, "iptables -t nat -C {check...}")
        .quiet()
        .ignore_stderr()
        .run()
        .is_err()
    {
        cmd!(sh, "iptables -t nat -A {rule...}").run()?;
    }
    let cni = state_dir(root).join("cni");
    std::fs::create_dir_all(&cni)?;
    let conflist = serde_json::json!({
        "cniVersion": "1.0.0",
        "name": "minitask",
        "plugins": [{
            "type": "bridge", "bridge": BRIDGE, "isGateway": true, "ipMasq": false, "hairpinMode": true,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_CIDR, "gateway": NODE_IP}]], "routes": [{"dst": "0.0.0.0/0"}]}
        }]
    });
    write(
        &cni.join("10-minitask.conflist"),
        &serde_json::to_string_pretty(&conflist)?,
    )
}

fn service_rule() -> Vec<String> {
    let args = format!(
        "PREROUTING -i {BRIDGE} -d {API_SERVICE_IP}/32 -p tcp --dport 443 -j DNAT --to-destination {NODE_IP}:{API_PORT}"
    );
    args.split(' ').map(str::to_string).collect()
}

fn containerd_config(root: &Path) -> anyhow::Result<String> {
    let cni = state_dir(root).join("cni");
    let config = format!(
        r#"version = 2
root = "{VAR_DIR}/containerd"
state = "{RUN_DIR}/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{SOCKET}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  # Some sandboxes (VMs like ours) forbid lowering oom_score_adj, which the
  # kubelet asks for: clamp it to containerd's own instead of failing.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni}"
"#,
        pause = images::PAUSE_IMAGE,
        cni = cni.display(),
    );
    let path = state_dir(root).join("containerd.toml");
    write(&path, &config)?;
    Ok(path.display().to_string())
}

fn kubelet_config(root: &Path) -> anyhow::Result<String> {
    let pki = state_dir(root).join("pki");
    let config = format!(
        r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This VM has cgroup v1, which kubelet 1.35 refuses unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://{SOCKET}
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: false}}
  x509: {{clientCAFile: {ca}}}
authorization: {{mode: AlwaysAllow}}
tlsCertFile: {cert}
tlsPrivateKeyFile: {key}
failSwapOn: false
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
serializeImagePulls: false
# A developer's disk is often fuller than a node's: never evict for it.
evictionHard: {{memory.available: 50Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
"#,
        ca = pki.join("ca.crt").display(),
        cert = pki.join("kubelet.crt").display(),
        key = pki.join("kubelet.key").display(),
    );
    let path = state_dir(root).join("kubelet.yaml");
    write(&path, &config)?;
    Ok(path.display().to_string())
}

/// The CA, serving and client certificates, and a kubeconfig per client.
fn write_pki(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let ca = Ca::new("minitask-local-ca")?;
    write(&dir.join("ca.crt"), &ca.cert_pem)?;
    write(&dir.join("ca.key"), &ca.key_pem)?;
    let api_hosts = [
        "127.0.0.1",
        NODE_IP,
        API_SERVICE_IP,
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ];
    let certs: [(&str, &str, &[&str], &[&str]); 7] = [
        ("apiserver", "kube-apiserver", &[], &api_hosts),
        (
            "apiserver-kubelet-client",
            "kube-apiserver-kubelet-client",
            &["system:masters"],
            &[],
        ),
        (
            "kubelet",
            &format!("system:node:{NODE}"),
            &["system:nodes"],
            &[NODE_IP, NODE, "127.0.0.1"],
        ),
        ("admin", "minitask-admin", &["system:masters"], &[]),
        ("controller-manager", "system:kube-controller-manager", &[], &[]),
        ("scheduler", "system:kube-scheduler", &[], &[]),
        ("kubelet-client", &format!("system:node:{NODE}"), &["system:nodes"], &[]),
    ];
    for (file, user, groups, hosts) in certs {
        let issued = ca.issue(user, groups, hosts)?;
        write(&dir.join(format!("{file}.crt")), &issued.cert_pem)?;
        write(&dir.join(format!("{file}.key")), &issued.key_pem)?;
    }
    // The aggregation layer (the archive's APIService): a CA of its own for
    // the API server's proxy client certificate, as kubeadm makes.
    let front_proxy_ca = Ca::new("minitask-local-front-proxy-ca")?;
    write(&dir.join("front-proxy-ca.crt"), &front_proxy_ca.cert_pem)?;
    let front_proxy = front_proxy_ca.issue(minitask_testenv::pki::FRONT_PROXY_NAME, &[], &[])?;
    write(&dir.join("front-proxy-client.crt"), &front_proxy.cert_pem)?;
    write(&dir.join("front-proxy-client.key"), &front_proxy.key_pem)?;
    let (sa_key, sa_pub) = signing_key()?;
    write(&dir.join("sa.key"), &sa_key)?;
    write(&dir.join("sa.pub"), &sa_pub)?;
    let state = dir.parent().context("pki dir has a parent")?;
    for (name, cert) in [
        ("admin", "admin"),
        ("controller-manager", "controller-manager"),
        ("scheduler", "scheduler"),
        ("kubelet", "kubelet-client"),
    ] {
        write(&state.join(format!("{name}.kubeconfig")), &client_kubeconfig(dir, cert))?;
    }
    Ok(())
}

fn client_kubeconfig(pki: &Path, cert: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: minitask-local\n  cluster:\n    server: https://127.0.0.1:{API_PORT}\n    certificate-authority: {ca}\nusers:\n- name: {cert}\n  user:\n    client-certificate: {dir}/{cert}.crt\n    client-key: {dir}/{cert}.key\ncontexts:\n- name: minitask-local\n  context:\n    cluster: minitask-local\n    user: {cert}\n    namespace: default\ncurrent-context: minitask-local\n",
        ca = pki.join("ca.crt").display(),
        dir = pki.display(),
    )
}

fn import_image(archive: &Path) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    cmd!(sh, "ctr --address {SOCKET} -n k8s.io images import {archive}")
        .quiet()
        .ignore_stdout()
        .run()?;
    Ok(())
}

/// Imports an image archive into the local cluster's containerd.
pub fn load_image(archive: &Path) -> anyhow::Result<()> {
    import_image(archive)
}

fn api_ready(root: &Path) -> bool {
    let sh = match Shell::new() {
        Ok(sh) => sh,
        Err(_) => return false,
    };
    let kubeconfig = kubeconfig(root);
    cmd!(sh, "kubectl --kubeconfig {kubeconfig} get --raw /readyz")
        .quiet()
        .ignore_stderr()
        .read()
        .is_ok_and(|s| s.trim() == "ok")
}

fn wait_node_ready(root: &Path) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    let kubeconfig = kubeconfig(root);
    wait_for("the node to register", Duration::from_secs(90), || {
        cmd!(sh, "kubectl --kubeconfig {kubeconfig} get node {NODE}")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()
            .is_ok()
    })?;
    cmd!(
        sh,
        "kubectl --kubeconfig {kubeconfig} wait --for=condition=Ready node/{NODE} --timeout=120s"
    )
    .run()
    .with_context(|| {
        format!(
            "the kubelet log ends:\n{}",
            tail(&Daemons::new(&state_dir(root)).log("kubelet"))
        )
    })?;
    // The default ServiceAccount appears shortly after a namespace does.
    wait_for("the default ServiceAccount", Duration::from_secs(60), || {
        cmd!(
            sh,
            "kubectl --kubeconfig {kubeconfig} get serviceaccount default -n default"
        )
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_ok()
    })
}

/// The default StorageClass, so that claims bind: a PipelineRun's
/// `volumeClaimTemplate` becomes a host-path volume on the node.
fn storage_class(root: &Path) -> anyhow::Result<()> {
    let path = state_dir(root).join("storage-class.yaml");
    write(&path, STORAGE_CLASS)?;
    let sh = Shell::new()?;
    let kubeconfig = kubeconfig(root);
    cmd!(sh, "kubectl --kubeconfig {kubeconfig} apply -f {path}")
        .quiet()
        .ignore_stdout()
        .run()
        .context("creating the default StorageClass")?;
    Ok(())
}

/// Pids of processes whose command line mentions `needle`.
fn pids_with_cmdline(needle: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(needle)
        })
        .collect()
}

/// Unmounts every mount point under the given prefixes, deepest first.
fn unmount_under(prefixes: &[&str]) {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<String> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4).map(str::to_string))
        .filter(|point| prefixes.iter().any(|p| point.starts_with(p)))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for point in points {
        if let Ok(path) = std::ffi::CString::new(point) {
            // SAFETY: umount2 on a path string we own; MNT_DETACH never blocks.
            unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

/// Kills every process in the kubelet's pod cgroups (`kubepods` in each
/// cgroup v1 hierarchy, or the unified one) and removes those cgroups.
fn remove_pod_cgroups() {
    let trees = cgroup_trees();
    for _ in 0..3 {
        for tree in &trees {
            for dir in cgroup_dirs(tree) {
                let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                for pid in procs.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
                    // SAFETY: kill(2); these are the pods' processes.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    for tree in &trees {
        let mut dirs = cgroup_dirs(tree);
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// The kubelet's `kubepods` cgroup in every hierarchy that has one.
fn cgroup_trees() -> Vec<PathBuf> {
    std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
        .map(|hierarchy| hierarchy.path().join("kubepods"))
        .chain([PathBuf::from("/sys/fs/cgroup/kubepods")])
        .filter(|tree| tree.is_dir())
        .collect()
}

/// `tree` and every cgroup below it.
fn cgroup_dirs(tree: &Path) -> Vec<PathBuf> {
    let mut out = vec![tree.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        let children = std::fs::read_dir(&out[i]).into_iter().flatten().flatten();
        let dirs: Vec<PathBuf> = children
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect();
        out.extend(dirs);
        i += 1;
    }
    out
}
