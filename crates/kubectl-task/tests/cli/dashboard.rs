//! `kubectl task dashboard` in a real browser (headless Chromium over the
//! DevTools protocol) against the real API server: the tests play the
//! controller by writing status, as the other CLI tests do.
//! With MINITASK_SCREENSHOTS=DIR they also write the README's screenshots
//! (`cargo xtask screenshots`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use minitask_testenv::browser::Browser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::access::{aggregated, bind};
use crate::*;

const WAIT: Duration = Duration::from_secs(20);

/// The plugin's dashboard on a free port; stopped when dropped.
struct Dashboard {
    child: Child,
    url: String,
    base: String,
}

impl Dashboard {
    fn start(ns: &str, user: Option<&str>) -> Dashboard {
        let mut args = vec!["dashboard", "--no-open", "-n", ns];
        if let Some(user) = user {
            args.extend(["--as", user]);
        }
        let mut child = Command::new(PLUGIN)
            .args(&args)
            .env("KUBECONFIG", &ControlPlane::shared().kubeconfig)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the plugin starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:") && url.contains("/?token="),
            "{url:?}"
        );
        let base = url.split("/?").next().unwrap().to_string();
        Dashboard { child, url, base }
    }

    fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser signed in to `dashboard` (it opened the printed URL).
async fn signed_in(dashboard: &Dashboard) -> Browser {
    let browser = Browser::start().await.unwrap();
    browser.goto(&dashboard.url).await.unwrap();
    let path = browser.eval("location.pathname + location.search").await.unwrap();
    assert_eq!(path, "/runs", "the token is exchanged and leaves the address");
    browser
}

/// Where the README's screenshots go, when asked for.
async fn screenshot(browser: &Browser, name: &str) {
    if let Some(dir) = std::env::var_os("MINITASK_SCREENSHOTS") {
        browser
            .screenshot(&std::path::Path::new(&dir).join(format!("{name}.png")))
            .await
            .unwrap();
    }
}

/// One raw HTTP/1.1 request; the status code and the body.
async fn raw(port: u16, request: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer)).await;
    let code = answer.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, answer)
}

fn ended(phase: &str, reason: &str, message: &str) -> Value {
    json!({
        "phase": phase, "reason": reason, "message": message,
        "podName": "gone-pod",
        "startTime": "2026-12-03T10:00:00Z", "completionTime": "2026-12-03T10:00:42Z", "duration": "42s",
        "conditions": [{"type": "Succeeded", "status": if phase == "Succeeded" { "True" } else { "False" },
                        "reason": reason, "message": message, "lastTransitionTime": "2026-12-03T10:00:42Z"}],
        "steps": [
            {"name": "build", "container": "step-build", "terminated": {"exitCode": 0, "startedAt": "2026-12-03T10:00:01Z", "finishedAt": "2026-12-03T10:00:30Z"}},
            {"name": "test", "container": "step-test", "terminated": {"exitCode": if phase == "Succeeded" { 0 } else { 3 }, "startedAt": "2026-12-03T10:00:30Z", "finishedAt": "2026-12-03T10:00:41Z"}},
        ],
    })
}

#[tokio::test]
async fn a_run_started_with_kubectl_appears_on_the_open_list_and_turns_succeeded() {
    let (client, ns) = world("dash-list").await;
    create_task(&client, &ns, "hello").await;
    let dashboard = Dashboard::start(&ns, None);
    let browser = signed_in(&dashboard).await;
    browser.eval("window.notReloaded = true").await.unwrap();

    let created = ok(&task_in(&ns, &["start", "hello", "-o", "name"]));
    let name = created.trim().rsplit('/').next().unwrap().to_string();
    let row = format!("document.querySelector('tr[data-run=\"{name}\"]')");
    browser
        .wait_for("the new run on the list", &format!("{row} !== null"), WAIT)
        .await
        .unwrap();
    set_status(&client, &ns, &name, ended("Succeeded", "Succeeded", "")).await;
    browser
        .wait_for(
            "the run to show Succeeded",
            &format!("{row} && {row}.dataset.phase === 'Succeeded' && {row}.innerText.includes('✓ Succeeded')"),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(
        browser.eval("window.notReloaded === true").await.unwrap(),
        true,
        "updated without a reload"
    );
    // More runs, for the screenshot and the table: newest first.
    create_run(&client, &ns, "hello-failed", "hello").await;
    set_status(
        &client,
        &ns,
        "hello-failed",
        ended("Failed", "StepFailed", "step test exited with code 3"),
    )
    .await;
    create_run(&client, &ns, "hello-running", "hello").await;
    set_status(
        &client,
        &ns,
        "hello-running",
        json!({"phase": "Running", "reason": "Running", "startTime": "2026-12-03T10:01:00Z"}),
    )
    .await;
    browser
        .wait_for(
            "three runs",
            "document.querySelectorAll('tr[data-run]').length === 3",
            WAIT,
        )
        .await
        .unwrap();
    let phases = browser
        .eval("[...document.querySelectorAll('tr[data-run]')].map(r => r.dataset.run + ':' + r.dataset.phase)")
        .await
        .unwrap();
    // Newest first; runs created in the same second by name.
    let mut all: Vec<(Option<k8s_openapi::jiff::Timestamp>, String, String)> = runs(&client, &ns)
        .await
        .into_iter()
        .map(|r| {
            (
                r.metadata.creation_timestamp.clone().map(|t| t.0),
                r.name_any(),
                format!("{:?}", r.phase()),
            )
        })
        .collect();
    all.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let want: Vec<String> = all.iter().map(|(_, n, p)| format!("{n}:{p}")).collect();
    assert_eq!(phases, json!(want));
    assert_eq!(phases.as_array().unwrap().len(), 3);
    // Filtered on the server, at a URL that can be shared.
    browser
        .goto(&format!("{}/runs?phase=Failed", dashboard.base))
        .await
        .unwrap();
    let shown = browser
        .eval("[...document.querySelectorAll('tr[data-run]')].map(r => r.dataset.run)")
        .await
        .unwrap();
    assert_eq!(shown, json!(["hello-failed"]));
    browser.goto(&format!("{}/runs", dashboard.base)).await.unwrap();
    screenshot(&browser, "runs").await;
}

#[tokio::test]
async fn a_failed_runs_page_says_why_and_shows_its_steps() {
    let (client, ns) = world("dash-run").await;
    create_task(&client, &ns, "hello").await;
    create_run(&client, &ns, "hello-failed", "hello").await;
    set_status(
        &client,
        &ns,
        "hello-failed",
        ended(
            "Failed",
            "StepFailed",
            "step test exited with code 3: see `kubectl task logs hello-failed --step test`",
        ),
    )
    .await;
    // Hostile text from the cluster is shown as text, never run.
    create_run(&client, &ns, "hostile", "hello").await;
    set_status(&client, &ns, "hostile", json!({"phase": "Failed", "reason": "X", "message": "<img src=x onerror=\"window.pwned=1\"><script>window.pwned=1</script>"})).await;

    let dashboard = Dashboard::start(&ns, None);
    let browser = signed_in(&dashboard).await;
    browser
        .goto(&format!("{}/ns/{ns}/taskruns/hostile", dashboard.base))
        .await
        .unwrap();
    browser
        .wait_for(
            "the message",
            "document.querySelector('dd.message').innerText.includes('<script>')",
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(browser.eval("window.pwned === undefined").await.unwrap(), true);

    browser
        .goto(&format!("{}/ns/{ns}/taskruns/hello-failed", dashboard.base))
        .await
        .unwrap();
    let text = browser.eval("document.getElementById('live').innerText").await.unwrap();
    let text = text.as_str().unwrap();
    assert!(
        text.contains("StepFailed") && text.contains("step test exited with code 3"),
        "{text}"
    );
    assert!(text.contains("42s"), "{text}");
    let steps = browser
        .eval("[...document.querySelectorAll('tr[data-step]')].map(r => r.innerText.replace(/\\s+/g, ' ').trim())")
        .await
        .unwrap();
    assert_eq!(steps, json!(["build ✓ Succeeded 0 29s", "test ✗ Failed 3 11s"]));
    // The pod is gone (it never existed here): the page says so per step.
    let logs = browser.eval("document.getElementById('logs').innerText").await.unwrap();
    assert!(logs.as_str().unwrap().contains("pod gone-pod is gone"), "{logs}");
    screenshot(&browser, "taskrun-failed").await;

    // Without JavaScript the page reads the same (no live updates).
    let plain = Browser::start().await.unwrap();
    plain
        .call("Emulation.setScriptExecutionDisabled", json!({"value": true}))
        .await
        .unwrap();
    plain.goto(&dashboard.url).await.unwrap();
    plain
        .goto(&format!("{}/ns/{ns}/taskruns/hello-failed", dashboard.base))
        .await
        .unwrap();
    let text = plain.eval("document.getElementById('live').innerText").await.unwrap();
    let text = text.as_str().unwrap();
    assert!(
        text.contains("StepFailed") && text.contains("2026-12-03 10:00:42 UTC"),
        "{text}"
    );
}

#[tokio::test]
async fn a_pipelineruns_graph_shows_its_tasks_in_layers_and_their_states_live() {
    let (client, ns) = world("dash-graph").await;
    let spec = json!({
        "tasks": [
            {"name": "fetch", "taskRef": {"name": "t"}},
            {"name": "build", "taskRef": {"name": "t"}, "runAfter": ["fetch"]},
            {"name": "lint", "taskRef": {"name": "t"}, "runAfter": ["fetch"]},
            {"name": "deploy", "taskRef": {"name": "t"}, "params": [{"name": "d", "value": "$(tasks.build.results.digest)"}]},
        ],
        "finally": [{"name": "notify", "taskRef": {"name": "t"}}],
    });
    let run: minitask_api::PipelineRun = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "PipelineRun",
        "metadata": {"name": "release-1"}, "spec": {"pipelineSpec": spec},
    }))
    .unwrap();
    let runs: Api<minitask_api::PipelineRun> = Api::namespaced(client.clone(), &ns);
    runs.create(&PostParams::default(), &run).await.unwrap();
    let task =
        |name: &str, state: &str| json!({"name": name, "state": state, "taskRuns": [format!("release-1-{name}")]});
    let status = |deploy: &str| {
        json!({"status": {
            "phase": "Running", "reason": "Running", "pipelineSpec": spec,
            "tasks": [task("fetch", "Succeeded"), task("build", "Succeeded"),
                      {"name": "lint", "state": "Skipped", "reason": "WhenExpressionsFalse", "message": "lint is off"},
                      task("deploy", deploy), {"name": "notify", "state": "Pending", "finally": true}],
        }})
    };
    runs.patch_status("release-1", &PatchParams::default(), &Patch::Merge(&status("Running")))
        .await
        .unwrap();

    let dashboard = Dashboard::start(&ns, None);
    let browser = signed_in(&dashboard).await;
    browser
        .goto(&format!("{}/ns/{ns}/pipelineruns/release-1", dashboard.base))
        .await
        .unwrap();
    browser.eval("window.notReloaded = true").await.unwrap();
    let nodes = browser
        .eval("[...document.querySelectorAll('svg.graph g.task')].map(g => g.dataset.task + ':' + g.dataset.state)")
        .await
        .unwrap();
    assert_eq!(
        nodes,
        json!([
            "fetch:Succeeded",
            "build:Succeeded",
            "lint:Skipped",
            "deploy:Running",
            "notify:Pending"
        ])
    );
    // Layers: fetch, then build and lint, then deploy; finally after all.
    let x = |task: &str| format!("+document.querySelector('g.task[data-task={task}] rect').getAttribute('x')");
    let xs = browser
        .eval(&format!(
            "[{}, {}, {}, {}, {}]",
            x("fetch"),
            x("build"),
            x("lint"),
            x("deploy"),
            x("notify")
        ))
        .await
        .unwrap();
    let xs: Vec<f64> = serde_json::from_value(xs).unwrap();
    assert!(
        xs[0] < xs[1] && xs[1] == xs[2] && xs[2] < xs[3] && xs[3] < xs[4],
        "{xs:?}"
    );
    let skipped = browser
        .eval("document.querySelector('g.task[data-task=lint] title').textContent")
        .await
        .unwrap();
    assert_eq!(skipped, "lint: Skipped (WhenExpressionsFalse: lint is off)");
    let link = browser
        .eval("document.querySelector('g.task[data-task=build] a').getAttribute('href')")
        .await
        .unwrap();
    assert_eq!(link, format!("/ns/{ns}/taskruns/release-1-build").as_str());

    runs.patch_status("release-1", &PatchParams::default(), &Patch::Merge(&status("Failed")))
        .await
        .unwrap();
    browser
        .wait_for(
            "deploy to turn Failed",
            "document.querySelector('g.task[data-task=deploy]').dataset.state === 'Failed'",
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(browser.eval("window.notReloaded === true").await.unwrap(), true);
    screenshot(&browser, "pipelinerun-graph").await;
    // Every task's logs, one click away (these TaskRuns have no pods here).
    browser
        .goto(&format!("{}/ns/{ns}/pipelineruns/release-1/logs", dashboard.base))
        .await
        .unwrap();
    let headings = browser
        .eval("[...document.querySelectorAll('#logs h2')].map(h => h.innerText)")
        .await
        .unwrap();
    assert_eq!(
        headings,
        json!([
            "task fetch · release-1-fetch",
            "task build · release-1-build",
            "task deploy · release-1-deploy"
        ])
    );
}

#[tokio::test]
async fn the_start_form_creates_a_run_with_the_edited_params_and_cancel_works() {
    let (client, ns) = world("dash-start").await;
    full_task(&client, &ns, "build").await;
    create_claim(&client, &ns, "src").await;
    let dashboard = Dashboard::start(&ns, None);
    let browser = signed_in(&dashboard).await;
    browser
        .goto(&format!("{}/ns/{ns}/tasks/build/start", dashboard.base))
        .await
        .unwrap();
    let default = browser
        .eval("document.getElementById('param-who').value")
        .await
        .unwrap();
    assert_eq!(default, "world", "the default is filled in");
    browser
        .eval(
            "document.getElementById('param-who').value = 'ada, lovelace';
             document.getElementById('param-files').value = 'a.txt\\nb,c.txt';
             document.getElementById('workspace-src').value = 'pvc:src';
             document.querySelector('form.start button[type=submit]').click(); true",
        )
        .await
        .unwrap();
    browser
        .wait_for(
            "the new run's page",
            "location.pathname.includes('/taskruns/build-run-') && document.readyState === 'complete'",
            WAIT,
        )
        .await
        .unwrap();
    let path = browser.eval("location.pathname").await.unwrap();
    let name = path.as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let run = Api::<TaskRun>::namespaced(client.clone(), &ns)
        .get(&name)
        .await
        .unwrap();
    let params = serde_json::to_value(&run.spec.params).unwrap();
    assert_eq!(
        params,
        json!([{"name": "files", "value": ["a.txt", "b,c.txt"]}, {"name": "who", "value": "ada, lovelace"}])
    );
    assert_eq!(
        run.spec.workspaces[0]
            .persistent_volume_claim
            .as_ref()
            .unwrap()
            .claim_name,
        "src"
    );

    // Rerun: the same values, prefilled.
    browser
        .goto(&format!("{}/ns/{ns}/taskruns/{name}/rerun", dashboard.base))
        .await
        .unwrap();
    assert_eq!(
        browser
            .eval("document.getElementById('param-who').value")
            .await
            .unwrap(),
        "ada, lovelace"
    );
    assert_eq!(
        browser
            .eval("document.getElementById('param-files').value")
            .await
            .unwrap(),
        "a.txt\nb,c.txt"
    );

    browser
        .eval("document.getElementById('param-who').value = 'grace'; document.querySelector('form.start button[type=submit]').click(); true")
        .await
        .unwrap();
    browser
        .wait_for(
            "the rerun's page",
            &format!("location.pathname.includes('/taskruns/build-run-') && !location.pathname.endsWith('/{name}') && !location.pathname.endsWith('/rerun') && document.readyState === 'complete'"),
            WAIT,
        )
        .await
        .unwrap();
    let rerun = browser.eval("location.pathname").await.unwrap();
    let rerun = Api::<TaskRun>::namespaced(client.clone(), &ns)
        .get(rerun.as_str().unwrap().rsplit('/').next().unwrap())
        .await
        .unwrap();
    let params = serde_json::to_value(&rerun.spec.params).unwrap();
    assert_eq!(
        params,
        json!([{"name": "files", "value": ["a.txt", "b,c.txt"]}, {"name": "who", "value": "grace"}])
    );
    assert_eq!(rerun.spec.workspaces.len(), 1, "the run's workspace, kept");

    // Cancel, from the run's page.
    browser
        .goto(&format!("{}/ns/{ns}/taskruns/{name}", dashboard.base))
        .await
        .unwrap();
    browser
        .eval("document.querySelector('form[action$=\"/cancel\"] button').click(); true")
        .await
        .unwrap();
    minitask_testenv::eventually("the run to be cancelled", WAIT, || {
        let runs: Api<TaskRun> = Api::namespaced(client.clone(), &ns);
        let name = name.clone();
        async move { runs.get(&name).await.ok()?.spec.cancelled.then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn requests_without_the_token_cookie_or_csrf_token_are_refused() {
    let (client, ns) = world("dash-auth").await;
    create_task(&client, &ns, "hello").await;
    create_run(&client, &ns, "keep-me", "hello").await;
    let dashboard = Dashboard::start(&ns, None);
    let port = dashboard.port();
    let host = format!("Host: 127.0.0.1:{port}\r\nConnection: close\r\n");
    let (code, body) = raw(port, &format!("GET /runs HTTP/1.1\r\n{host}\r\n")).await;
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("not signed in"), "{body}");
    let (code, _) = raw(port, &format!("GET /?token=wrong HTTP/1.1\r\n{host}\r\n")).await;
    assert_eq!(code, 401);
    // The right token, but under another name (DNS rebinding).
    let token = dashboard.url.rsplit('=').next().unwrap().to_string();
    let (code, _) = raw(
        port,
        &format!("GET /?token={token} HTTP/1.1\r\nHost: evil.example:{port}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(code, 403);
    let (code, answer) = raw(port, &format!("GET /?token={token} HTTP/1.1\r\n{host}\r\n")).await;
    assert_eq!(code, 303, "{answer}");
    let cookie = answer
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .expect("a cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(
        answer.to_ascii_lowercase().contains("httponly; samesite=strict"),
        "{answer}"
    );
    // A form without this dashboard's CSRF token deletes nothing.
    let form = "csrf=guess";
    let (code, body) = raw(
        port,
        &format!(
            "POST /ns/{ns}/taskruns/keep-me/delete HTTP/1.1\r\n{host}Cookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ),
    )
    .await;
    assert_eq!(code, 403, "{body}");
    assert!(
        Api::<TaskRun>::namespaced(client.clone(), &ns)
            .get_opt("keep-me")
            .await
            .unwrap()
            .is_some()
    );
    // Another tab without the cookie: refused too.
    let browser = Browser::start().await.unwrap();
    browser.goto(&format!("{}/runs", dashboard.base)).await.unwrap();
    let text = browser.eval("document.body.innerText").await.unwrap();
    assert!(text.as_str().unwrap().contains("not signed in"), "{text}");
}

#[tokio::test]
async fn a_viewer_sees_the_runs_and_is_told_why_starting_is_refused() {
    let (client, ns) = world("dash-view").await;
    aggregated(&client, "view").await;
    create_task(&client, &ns, "hello").await;
    create_run(&client, &ns, "seen", "hello").await;
    bind(&client, &ns, "vera", "view").await;
    let dashboard = Dashboard::start(&ns, Some("vera"));
    let browser = signed_in(&dashboard).await;
    browser
        .wait_for(
            "the run on the list",
            "document.querySelector('tr[data-run=seen]') !== null",
            WAIT,
        )
        .await
        .unwrap();
    browser
        .goto(&format!("{}/ns/{ns}/tasks/hello/start", dashboard.base))
        .await
        .unwrap();
    browser
        .eval("document.querySelector('form.start button[type=submit]').click(); true")
        .await
        .unwrap();
    browser
        .wait_for("the refusal", "document.querySelector('p.error') !== null", WAIT)
        .await
        .unwrap();
    let error = browser
        .eval("document.querySelector('p.error').innerText")
        .await
        .unwrap();
    let error = error.as_str().unwrap();
    assert!(
        error.starts_with(&format!("creating a TaskRun of hello in namespace {ns}: forbidden:"))
            && error.contains("ask an administrator for the minitask-view role (to read) or minitask-edit"),
        "{error}"
    );
    assert_eq!(runs(&client, &ns).await.len(), 1, "nothing was created");
}

/// A ClusterTask is listed beside the namespace's Tasks, started from its
/// form, linked from its run, and a rerun starts the ClusterTask again,
/// not the namespace's Task of the same name.
#[tokio::test]
async fn a_cluster_task_is_started_and_rerun_as_itself_not_a_same_named_task() {
    use minitask_api::{ClusterTask, TaskKind};
    let (client, ns) = world("dash-ctsk").await;
    aggregated(&client, "edit").await;
    // Cluster-scoped names are shared by every test: this one's own.
    let name = format!("{ns}-clone");
    crate::cluster_tasks::publish(&client, &name).await;
    create_task(&client, &ns, &name).await;
    bind(&client, &ns, "dora", "edit").await;
    let dashboard = Dashboard::start(&ns, Some("dora"));
    let browser = signed_in(&dashboard).await;

    browser
        .goto(&format!("{}/ns/{ns}/tasks", dashboard.base))
        .await
        .unwrap();
    let listed = browser
        .eval("[...document.querySelectorAll('table.catalog tbody tr')].map(r => r.cells[1].innerText + ' ' + r.querySelector('a').getAttribute('href')).join('\\n')")
        .await
        .unwrap();
    let listed = listed.as_str().unwrap();
    assert!(
        listed.contains(&format!("Task /ns/{ns}/tasks/{name}"))
            && listed.contains(&format!("ClusterTask /ns/{ns}/clustertasks/{name}")),
        "{listed}"
    );

    let started_run = |before: Option<String>| {
        let browser = &browser;
        async move {
            let not_before = before
                .map(|b| format!(" && !location.pathname.endsWith('/{b}')"))
                .unwrap_or_default();
            browser
                .wait_for(
                    "the new run's page",
                    &format!("location.pathname.includes('/taskruns/') && !location.pathname.endsWith('/rerun'){not_before} && document.readyState === 'complete'"),
                    WAIT,
                )
                .await
                .unwrap();
            let path = browser.eval("location.pathname").await.unwrap();
            path.as_str().unwrap().rsplit('/').next().unwrap().to_string()
        }
    };
    browser
        .goto(&format!("{}/ns/{ns}/clustertasks/{name}/start", dashboard.base))
        .await
        .unwrap();
    browser
        .eval("document.getElementById('param-url').value = 'https://example.com/mine.git'; document.querySelector('form.start button[type=submit]').click(); true")
        .await
        .unwrap();
    let first = started_run(None).await;
    let runs_api = Api::<TaskRun>::namespaced(client.clone(), &ns);
    let run = runs_api.get(&first).await.unwrap();
    let reference = run.spec.task_ref.clone().unwrap();
    assert_eq!(
        (reference.name.as_str(), reference.kind),
        (name.as_str(), TaskKind::ClusterTask)
    );
    let link = browser
        .eval(&format!(
            "document.querySelector('dl.fields a[href=\"/ns/{ns}/clustertasks/{name}\"]') !== null"
        ))
        .await
        .unwrap();
    assert_eq!(link, true, "the run's page links to the ClusterTask");

    browser
        .goto(&format!("{}/ns/{ns}/taskruns/{first}/rerun", dashboard.base))
        .await
        .unwrap();
    assert_eq!(
        browser
            .eval("document.getElementById('param-url').value")
            .await
            .unwrap(),
        "https://example.com/mine.git"
    );
    browser
        .eval("document.querySelector('form.start button[type=submit]').click(); true")
        .await
        .unwrap();
    let second = started_run(Some(first)).await;
    let rerun = runs_api.get(&second).await.unwrap();
    let reference = rerun.spec.task_ref.clone().unwrap();
    assert_eq!(
        (reference.name.as_str(), reference.kind),
        (name.as_str(), TaskKind::ClusterTask),
        "a rerun of a ClusterTask's run starts the ClusterTask"
    );
    Api::<ClusterTask>::all(client)
        .delete(&name, &Default::default())
        .await
        .unwrap();
}
