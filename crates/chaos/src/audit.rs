//! Who acted on which run, and who held which shard when, from the API
//! server's audit log (one JSON line per request of the controller's
//! ServiceAccount; each replica has a token of its own, so its `uid`
//! names the replica, and Lease writes carry their bodies).
//!
//! The invariant: a replica acts on a run (creates or changes its pod,
//! writes its status) only while it holds the Lease of the run's shard,
//! and while no other replica holds a Lease that covers the same run under
//! its own shard count. "Holds" is read from the Lease writes the API
//! server took: the last one before the act names the replica, and its
//! `renewTime + leaseDurationSeconds` has not passed.

use std::collections::BTreeMap;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use minitask_controller::shards::shard_of;
use serde_json::Value;

const SHARD_LEASE: &str = "minitask-controller-shard-";

/// One request, as far as the checks need it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// When the API server received it.
    pub received: Timestamp,
    /// When it answered (a write has taken effect by then).
    pub answered: Timestamp,
    /// The token's uid: which replica.
    pub uid: String,
    pub verb: String,
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: String,
    pub name: String,
    pub code: u16,
    /// A Lease write's result: holder and expiry.
    pub lease: Option<(String, Timestamp)>,
}

impl Entry {
    fn succeeded(&self) -> bool {
        (200..300).contains(&self.code)
    }
}

/// One audit line; None for what is not a finished request.
pub fn parse(line: &str) -> Option<Entry> {
    let event: Value = serde_json::from_str(line).ok()?;
    let time = |field: &str| event[field].as_str()?.parse::<Timestamp>().ok();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let object = &event["objectRef"];
    let lease = event["responseObject"]["spec"].as_object().and_then(|spec| {
        let renewed = spec.get("renewTime")?.as_str()?.parse::<Timestamp>().ok()?;
        let seconds = spec.get("leaseDurationSeconds")?.as_i64()?;
        let holder = spec.get("holderIdentity").map(text).unwrap_or_default();
        Some((holder, renewed.checked_add(SignedDuration::from_secs(seconds)).ok()?))
    });
    Some(Entry {
        received: time("requestReceivedTimestamp")?,
        answered: time("stageTimestamp")?,
        uid: text(&event["user"]["uid"]),
        verb: text(&event["verb"]),
        resource: text(&object["resource"]),
        subresource: object["subresource"].as_str().map(str::to_string),
        namespace: text(&object["namespace"]),
        name: text(&object["name"]),
        code: event["responseStatus"]["code"].as_u64().unwrap_or(0) as u16,
        lease,
    })
}

/// A replica process: its token's uid, its identity in Leases, its
/// `--shards`.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub uid: String,
    pub identity: String,
    pub shards: u32,
}

/// Who held a shard's Lease from `from` on, until `until` at the latest.
#[derive(Clone, Debug, PartialEq)]
struct Holding {
    from: Timestamp,
    holder: String,
    until: Timestamp,
}

/// The shard Leases' history: every write the API server took, in order.
fn holdings(entries: &[Entry]) -> BTreeMap<u32, Vec<Holding>> {
    let mut shards: BTreeMap<u32, Vec<Holding>> = BTreeMap::new();
    for entry in entries.iter().filter(|e| e.resource == "leases" && e.succeeded()) {
        let (Some(shard), Some((holder, until))) = (
            entry.name.strip_prefix(SHARD_LEASE).and_then(|s| s.parse().ok()),
            entry.lease.clone(),
        ) else {
            continue;
        };
        shards.entry(shard).or_default().push(Holding {
            from: entry.answered,
            holder,
            until,
        });
    }
    for history in shards.values_mut() {
        history.sort_by_key(|h| h.from);
    }
    shards
}

/// True when `identity` held `shard` at `at`.
fn held(holdings: &BTreeMap<u32, Vec<Holding>>, shard: u32, identity: &str, at: Timestamp) -> bool {
    let Some(history) = holdings.get(&shard) else {
        return false;
    };
    let before = history.partition_point(|h| h.from <= at);
    before > 0 && {
        let last = &history[before - 1];
        last.holder == identity && at <= last.until
    }
}

/// The run a pod belongs to: `<run>-pod` or `<run>-pod-retry<k>`.
pub fn run_of_pod(pod: &str) -> Option<&str> {
    if let Some(run) = pod.strip_suffix("-pod") {
        return Some(run);
    }
    let (run, retry) = pod.rsplit_once("-pod-retry")?;
    retry.parse::<u32>().ok().map(|_| run)
}

/// A successful write on a run by a replica.
#[derive(Clone, Debug, PartialEq)]
pub struct Act {
    pub run: String,
    pub uid: String,
    pub at: Timestamp,
    pub what: String,
}

/// Every write that acts on a run: its pod created, patched or deleted,
/// its status written, the run deleted.
pub fn acts(entries: &[Entry], namespace: &str) -> Vec<Act> {
    entries
        .iter()
        .filter(|e| e.succeeded() && e.namespace == namespace)
        .filter_map(|e| {
            let run = match (e.resource.as_str(), e.subresource.as_deref(), e.verb.as_str()) {
                ("pods", None, "create" | "patch" | "delete") => run_of_pod(&e.name)?,
                ("taskruns", Some("status"), "patch" | "update") | ("taskruns", None, "delete") => &e.name,
                _ => return None,
            };
            Some(Act {
                run: run.to_string(),
                uid: e.uid.clone(),
                at: e.received,
                what: format!(
                    "{} {}{}",
                    e.verb,
                    e.resource,
                    e.subresource.as_ref().map(|s| format!("/{s}")).unwrap_or_default()
                ),
            })
        })
        .collect()
}

/// When the first act after `after` on a run that `wanted` picks was made
/// by a replica other than `not`: how soon another replica took over.
pub fn first_act(
    entries: &[Entry],
    namespace: &str,
    after: Timestamp,
    not: &str,
    wanted: impl Fn(&str) -> bool,
) -> Option<Timestamp> {
    acts(entries, namespace)
        .into_iter()
        .filter(|a| a.at > after && a.uid != not && wanted(&a.run))
        .map(|a| a.at)
        .min()
}

/// How many shard Lease writes the API server took.
pub fn lease_writes(entries: &[Entry]) -> usize {
    holdings(entries).values().map(Vec::len).sum()
}

/// Every act made while its replica did not hold the run's shard, or
/// while another replica held a shard that covers the run: one line each.
pub fn overlaps(entries: &[Entry], namespace: &str, members: &[Member]) -> Vec<String> {
    let holdings = holdings(entries);
    let mut found = Vec::new();
    for act in acts(entries, namespace) {
        let Some(me) = members.iter().find(|m| m.uid == act.uid) else {
            found.push(format!(
                "{} on run {} by unknown replica {:?}",
                act.what, act.run, act.uid
            ));
            continue;
        };
        let mine = shard_of(namespace, &act.run, me.shards);
        if !held(&holdings, mine, &me.identity, act.at) {
            found.push(format!(
                "{} on run {} at {} by {}, which did not hold shard {mine} of {}",
                act.what, act.run, act.at, me.identity, me.shards
            ));
            continue;
        }
        let others = members.iter().filter(|m| m.identity != me.identity);
        for other in others {
            let theirs = shard_of(namespace, &act.run, other.shards);
            if held(&holdings, theirs, &other.identity, act.at) {
                found.push(format!(
                    "{} on run {} at {} by {} while {} held shard {theirs} of {}, which covers it too",
                    act.what, act.run, act.at, me.identity, other.identity, other.shards
                ));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).unwrap()
    }

    fn lease(uid: &str, shard: u32, second: i64, holder: &str, lasts: i64) -> Entry {
        Entry {
            received: at(second),
            answered: at(second),
            uid: uid.into(),
            verb: "patch".into(),
            resource: "leases".into(),
            subresource: None,
            namespace: "minitask-system".into(),
            name: format!("{SHARD_LEASE}{shard}"),
            code: 200,
            lease: Some((holder.into(), at(second + lasts))),
        }
    }

    fn status(uid: &str, run: &str, second: i64) -> Entry {
        Entry {
            received: at(second),
            answered: at(second),
            uid: uid.into(),
            verb: "patch".into(),
            resource: "taskruns".into(),
            subresource: Some("status".into()),
            namespace: "ns".into(),
            name: run.into(),
            code: 200,
            lease: None,
        }
    }

    fn member(uid: &str, identity: &str, shards: u32) -> Member {
        Member {
            uid: uid.into(),
            identity: identity.into(),
            shards,
        }
    }

    #[test]
    fn an_audit_line_is_read() {
        let line = r#"{"kind":"Event","level":"RequestResponse","verb":"patch","user":{"username":"u","uid":"replica-2"},
            "objectRef":{"resource":"leases","namespace":"minitask-system","name":"minitask-controller-shard-3"},
            "responseStatus":{"code":200},"requestReceivedTimestamp":"2026-12-01T10:00:00.000001Z",
            "stageTimestamp":"2026-12-01T10:00:00.002000Z",
            "responseObject":{"spec":{"holderIdentity":"b","renewTime":"2026-12-01T10:00:00.000000Z","leaseDurationSeconds":15}}}"#;
        let entry = parse(&line.replace('\n', "")).unwrap();
        assert_eq!(
            (entry.uid.as_str(), entry.name.as_str(), entry.code),
            ("replica-2", "minitask-controller-shard-3", 200)
        );
        let (holder, until) = entry.lease.unwrap();
        assert_eq!(
            (holder.as_str(), until.to_string().as_str()),
            ("b", "2026-12-01T10:00:15Z")
        );
        assert_eq!(parse("not json"), None);
        assert_eq!(parse("{}"), None, "no timestamps: not a request");
    }

    #[test]
    fn pods_and_statuses_are_acts_on_their_run() {
        assert_eq!(run_of_pod("r-1-pod"), Some("r-1"));
        assert_eq!(run_of_pod("r-1-pod-retry2"), Some("r-1"));
        assert_eq!(run_of_pod("r-1-pod-retryx"), None);
        assert_eq!(run_of_pod("other"), None);
        let mut get = status("replica-0", "r", 1);
        get.verb = "get".into();
        let mut refused = status("replica-0", "r", 1);
        refused.code = 409;
        let mut pod = status("replica-0", "r-pod", 2);
        (pod.resource, pod.subresource, pod.verb) = ("pods".into(), None, "create".into());
        let got = acts(&[get, refused, pod, status("replica-0", "r", 3)], "ns");
        let runs: Vec<(&str, &str)> = got.iter().map(|a| (a.run.as_str(), a.what.as_str())).collect();
        assert_eq!(runs, [("r", "create pods"), ("r", "patch taskruns/status")]);
    }

    #[test]
    fn the_first_act_of_another_replica_is_found() {
        let entries = [
            status("replica-0", "r", 1),
            status("replica-0", "r", 5),
            status("replica-1", "s", 6),
            status("replica-1", "r", 7),
        ];
        let first = first_act(&entries, "ns", at(2), "replica-0", |run| run == "r");
        assert_eq!(first, Some(at(7)));
        assert_eq!(first_act(&entries, "ns", at(8), "replica-0", |_| true), None);
        assert_eq!(lease_writes(&[lease("replica-0", 0, 0, "a", 15)]), 1);
    }

    #[test]
    fn acts_within_the_holders_lease_pass() {
        let shard = shard_of("ns", "r", 1);
        let members = [member("replica-0", "a", 1), member("replica-1", "b", 1)];
        let entries = [
            lease("replica-0", shard, 0, "a", 15),
            status("replica-0", "r", 5),
            // a renews, then releases; b takes over.
            lease("replica-0", shard, 10, "a", 15),
            status("replica-0", "r", 20),
            lease("replica-0", shard, 21, "", 1),
            lease("replica-1", shard, 22, "b", 15),
            status("replica-1", "r", 23),
        ];
        assert_eq!(overlaps(&entries, "ns", &members), Vec::<String>::new());
    }

    #[test]
    fn acts_outside_the_lease_or_beside_another_holder_are_found() {
        let shard = shard_of("ns", "r", 1);
        let members = [member("replica-0", "a", 1), member("replica-1", "b", 1)];
        let entries = [
            lease("replica-0", shard, 0, "a", 15),
            // Expired: a acts 1 s too late.
            status("replica-0", "r", 16),
            lease("replica-1", shard, 17, "b", 15),
            // b holds it: a's act is an overlap.
            status("replica-0", "r", 18),
        ];
        let found = overlaps(&entries, "ns", &members);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("by a, which did not hold shard"), "{}", found[0]);

        // Two shard counts: b (2 shards) holds shard 1, which covers run
        // `run` under its count, while a (1 shard) acts on it under its own.
        let run = (0..)
            .map(|i| format!("r{i}"))
            .find(|r| shard_of("ns", r, 2) == 1)
            .unwrap();
        let members = [member("replica-0", "a", 1), member("replica-1", "b", 2)];
        let entries = [
            lease("replica-0", 0, 0, "a", 15),
            lease("replica-1", 1, 1, "b", 15),
            status("replica-0", &run, 2),
        ];
        let found = overlaps(&entries, "ns", &members);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("while b held shard"), "{}", found[0]);
    }
}
