//! Recordings of the AWS API calls a command really made (`keyless assume --record FILE`), and the identity
//! policy they need (`keyless permissions from-record`).
//!
//! A recording is JSON Lines, one line per distinct call, a documented contract:
//! `{"v":1,"service":"S3","api":"ListObjectsV2","region":"eu-west-1","fqdn":"b.s3.eu-west-1.amazonaws.com","count":3}`.
//! `service` is the SDK's service id and `api` the operation, as client-side-monitoring (CSM) events carry them;
//! `region` and `fqdn` are `null` when the events did not carry them. Nothing else of an event is kept: CSM events
//! also carry the caller's `AccessKey` and `SessionToken`, and [`CsmCollector`] never reads them.
//!
//! CSM events carry no resource (no bucket, key or ARN), so a policy from recordings scopes each action by what they
//! do carry, the region (`aws:RequestedRegion`), and gives `"Resource": "*"`: for actions without resource-level
//! permissions that is exact; for the others it is listed in [`FromRecord::narrow_by_hand`] with the ARN formats
//! the action accepts, never silently.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::actions::{self, Needs};

/// The format version written in every line (`"v": 1`).
pub const VERSION: u64 = 1;

/// One distinct call: a service's operation in a region through an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Call {
    /// The SDK's service id, e.g. `S3`, `CloudFront`, `Secrets Manager`.
    pub service: String,
    /// The API operation, e.g. `ListObjectsV2`.
    pub api: String,
    /// The region the request was signed for, when the event carried it.
    pub region: Option<String>,
    /// The endpoint's host (and port), when the event carried it.
    pub fqdn: Option<String>,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.service, self.api)?;
        if let Some(region) = &self.region {
            write!(f, " in {region}")?;
        }
        Ok(())
    }
}

/// Calls with how often each was made. Merging recordings adds their counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recording {
    calls: BTreeMap<Call, u64>,
}

/// A line of a recording that is not in the format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RecordError {
    pub line: usize,
    pub message: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    v: u64,
    service: String,
    api: String,
    region: Option<String>,
    fqdn: Option<String>,
    count: u64,
}

impl Recording {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `count` calls.
    pub fn add(&mut self, call: Call, count: u64) {
        *self.calls.entry(call).or_default() += count;
    }

    /// Adds every call of `other`.
    pub fn merge(&mut self, other: Recording) {
        for (call, count) in other.calls {
            self.add(call, count);
        }
    }

    /// The distinct calls, sorted, with their counts.
    pub fn calls(&self) -> impl Iterator<Item = (&Call, u64)> {
        self.calls.iter().map(|(call, count)| (call, *count))
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// How many calls in all.
    pub fn total(&self) -> u64 {
        self.calls.values().sum()
    }

    /// The recording as JSON Lines, one line per distinct call, sorted.
    pub fn to_json_lines(&self) -> String {
        let mut out = String::new();
        for (call, &count) in &self.calls {
            let line = Line {
                v: VERSION,
                service: call.service.clone(),
                api: call.api.clone(),
                region: call.region.clone(),
                fqdn: call.fqdn.clone(),
                count,
            };
            // A struct of strings and numbers always serialises.
            out.push_str(&serde_json::to_string(&line).unwrap_or_default());
            out.push('\n');
        }
        out
    }

    /// Reads a recording; blank lines are ignored. Errors name the line and what is wrong with it.
    pub fn parse(text: &str) -> Result<Recording, RecordError> {
        let mut recording = Recording::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let error = |message: String| RecordError {
                line: index + 1,
                message,
            };
            let parsed: Line = serde_json::from_str(line).map_err(|e| {
                error(format!(
                    "not a recorded call ({e}); expected {{\"v\":1,\"service\":…,\"api\":…,\"region\":…,\"fqdn\":…,\"count\":…}}"
                ))
            })?;
            if parsed.v != VERSION {
                return Err(error(format!(
                    "format version {} is not one this keyless reads (it reads {VERSION}); record again with this keyless",
                    parsed.v
                )));
            }
            if parsed.service.is_empty() || parsed.api.is_empty() {
                return Err(error("`service` and `api` must not be empty".into()));
            }
            recording.add(
                Call {
                    service: parsed.service,
                    api: parsed.api,
                    region: parsed.region,
                    fqdn: parsed.fqdn,
                },
                parsed.count,
            );
        }
        Ok(recording)
    }
}

/// The fields of a CSM event keyless reads. Everything else, `AccessKey` and `SessionToken` included, is skipped
/// by the deserializer and never held.
#[derive(Deserialize)]
struct CsmEvent {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "ClientId", default)]
    client_id: Option<String>,
    #[serde(rename = "Service")]
    service: String,
    #[serde(rename = "Api")]
    api: String,
    #[serde(rename = "Region", default)]
    region: Option<String>,
    #[serde(rename = "Fqdn", default)]
    fqdn: Option<String>,
}

type CallKey = (Option<String>, String, String);

/// Turns client-side-monitoring datagrams into a [`Recording`]. An SDK sends one `ApiCallAttempt` event per HTTP
/// attempt (with the endpoint's `Fqdn`) and then one `ApiCall` event per call (with the `Region`, without the
/// `Fqdn`): each `ApiCall` counts once, with the endpoint of its last attempt. An attempt whose `ApiCall` never
/// came (the process died mid-call) still counts as a call.
#[derive(Debug, Default)]
pub struct CsmCollector {
    recording: Recording,
    /// The last attempt of each (client, service, api) not yet followed by its `ApiCall`: (region, fqdn).
    pending: HashMap<CallKey, (Option<String>, Option<String>)>,
    ignored: u64,
}

impl CsmCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads one datagram; returns whether it was a CSM event. Anything else is counted in
    /// [`CsmCollector::ignored`] and otherwise dropped.
    pub fn ingest(&mut self, datagram: &[u8]) -> bool {
        let Ok(event) = serde_json::from_slice::<CsmEvent>(datagram) else {
            self.ignored += 1;
            return false;
        };
        let key = (event.client_id, event.service, event.api);
        match event.kind.as_str() {
            "ApiCallAttempt" => {
                self.pending.insert(key, (event.region, event.fqdn));
            }
            "ApiCall" => {
                let (attempt_region, fqdn) = self.pending.remove(&key).unwrap_or_default();
                let (_, service, api) = key;
                self.recording.add(
                    Call {
                        service,
                        api,
                        region: event.region.or(attempt_region),
                        fqdn,
                    },
                    1,
                );
            }
            _ => {
                self.ignored += 1;
                return false;
            }
        }
        true
    }

    /// Datagrams that were not CSM events.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// The recording, counting attempts whose call event never came.
    pub fn finish(mut self) -> Recording {
        for ((_, service, api), (region, fqdn)) in self.pending.drain() {
            self.recording.add(
                Call {
                    service,
                    api,
                    region,
                    fqdn,
                },
                1,
            );
        }
        self.recording
    }
}

/// An action of the policy that a recording cannot scope to resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NarrowByHand {
    pub action: String,
    /// The ARN formats the action accepts (from the dataset), e.g. `arn:${Partition}:s3:::${BucketName}`.
    pub resource_arns: Vec<String>,
    /// The recorded calls that need it, e.g. `S3 PutObject`.
    pub calls: Vec<String>,
}

/// A recorded call keyless has no IAM action for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownCall {
    pub service: String,
    pub api: String,
    pub count: u64,
    pub reason: String,
}

/// One recorded call and the IAM actions it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NeededCall {
    pub service: String,
    pub api: String,
    pub region: Option<String>,
    pub count: u64,
    pub actions: Vec<String>,
}

/// The policy a set of recordings needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FromRecord {
    /// An IAM identity policy document.
    pub policy: Value,
    /// Every recorded call keyless could map, with its actions.
    pub calls: Vec<NeededCall>,
    /// Actions granted on `"Resource": "*"` that have resource-level permissions: scope them by hand.
    pub narrow_by_hand: Vec<NarrowByHand>,
    /// Calls with no IAM action in the table: not in the policy.
    pub unknown: Vec<UnknownCall>,
}

/// The identity policy `recording` needs: one statement per group of actions that share their regions and whether
/// they can be scoped to resources; `aws:RequestedRegion` when every call of an action carried its region.
pub fn policy(recording: &Recording) -> FromRecord {
    // action -> (regions, or None when a call carried none; calls)
    let mut needed: BTreeMap<String, (Option<BTreeSet<String>>, BTreeSet<String>)> =
        BTreeMap::new();
    let mut calls = Vec::new();
    let mut unknown = Vec::new();
    for (call, count) in recording.calls() {
        let needs = match actions::operation(&call.service, &call.api) {
            Some(operation) => operation.needs,
            None => {
                unknown.push(UnknownCall {
                    service: call.service.clone(),
                    api: call.api.clone(),
                    count,
                    reason: format!(
                        "`{}` `{}` is not an operation in keyless's table ({})",
                        call.service,
                        call.api,
                        actions::sources()
                    ),
                });
                continue;
            }
        };
        let Needs::Actions(list) = needs else {
            unknown.push(UnknownCall {
                service: call.service.clone(),
                api: call.api.clone(),
                count,
                reason: "the IAM dataset has no action for this operation; find its action in the service's \
                         authorization reference and add it by hand"
                    .into(),
            });
            continue;
        };
        for action in &list {
            let entry = needed
                .entry(action.clone())
                .or_insert_with(|| (Some(BTreeSet::new()), BTreeSet::new()));
            match (&mut entry.0, &call.region) {
                (Some(regions), Some(region)) => {
                    regions.insert(region.clone());
                }
                (regions, _) => *regions = None,
            }
            entry.1.insert(format!("{} {}", call.service, call.api));
        }
        calls.push(NeededCall {
            service: call.service.clone(),
            api: call.api.clone(),
            region: call.region.clone(),
            count,
            actions: list,
        });
    }
    // (scopable, regions) -> actions
    let mut groups: BTreeMap<(bool, Option<BTreeSet<String>>), Vec<String>> = BTreeMap::new();
    let mut narrow_by_hand = Vec::new();
    for (action, (regions, by)) in &needed {
        let scopable = actions::action(action).is_some_and(|a| a.has_resource_level_permissions());
        if scopable {
            narrow_by_hand.push(NarrowByHand {
                action: action.clone(),
                resource_arns: actions::action(action)
                    .map(|a| {
                        a.resource_arns()
                            .iter()
                            .map(|r| r.arn.to_string())
                            .collect()
                    })
                    .unwrap_or_default(),
                calls: by.iter().cloned().collect(),
            });
        }
        groups
            .entry((scopable, regions.clone()))
            .or_default()
            .push(action.clone());
    }
    let statements: Vec<Value> = groups
        .into_iter()
        .enumerate()
        .map(|(index, ((scopable, regions), actions))| {
            let sid = format!(
                "Recorded{}{}",
                if scopable { "NarrowByHand" } else { "" },
                index + 1
            );
            let mut statement = json!({
                "Sid": sid,
                "Effect": "Allow",
                "Action": actions,
                "Resource": "*",
            });
            if let Some(regions) = regions {
                let regions: Vec<String> = regions.into_iter().collect();
                statement["Condition"] = json!({"StringEquals": {"aws:RequestedRegion": regions}});
            }
            statement
        })
        .collect();
    FromRecord {
        policy: json!({"Version": "2012-10-17", "Statement": statements}),
        calls,
        narrow_by_hand,
        unknown,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const ATTEMPT: &str = r#"{"Version":1,"ClientId":"keyless","Type":"ApiCallAttempt","Service":"S3","Api":"ListObjectsV2","Timestamp":1,"AttemptLatency":3,"Fqdn":"site.s3.eu-west-1.amazonaws.com","UserAgent":"aws-cli/1.46.3","AccessKey":"ASIAEXAMPLEKEY123456","Region":"eu-west-1","SessionToken":"SESSIONTOKENSECRET","HttpStatusCode":200}"#;
    const CALL: &str = r#"{"Version":1,"ClientId":"keyless","Type":"ApiCall","Service":"S3","Api":"ListObjectsV2","Timestamp":1,"AttemptCount":1,"Region":"eu-west-1","UserAgent":"aws-cli/1.46.3","FinalHttpStatusCode":200,"Latency":4,"MaxRetriesExceeded":0}"#;

    #[test]
    fn csm_events_become_calls_without_credentials() {
        let mut collector = CsmCollector::new();
        assert!(collector.ingest(ATTEMPT.as_bytes()));
        assert!(collector.ingest(CALL.as_bytes()));
        assert!(collector.ingest(ATTEMPT.as_bytes()));
        assert!(collector.ingest(CALL.as_bytes()));
        assert!(!collector.ingest(b"not json"));
        assert_eq!(collector.ignored(), 1);
        let recording = collector.finish();
        let text = recording.to_json_lines();
        assert_eq!(
            text,
            "{\"v\":1,\"service\":\"S3\",\"api\":\"ListObjectsV2\",\"region\":\"eu-west-1\",\"fqdn\":\"site.s3.eu-west-1.amazonaws.com\",\"count\":2}\n"
        );
        assert!(!text.contains("ASIA") && !text.contains("SESSIONTOKEN"));
        assert_eq!(Recording::parse(&text).unwrap(), recording);
    }

    #[test]
    fn an_attempt_without_its_call_event_still_counts() {
        let mut collector = CsmCollector::new();
        collector.ingest(ATTEMPT.as_bytes());
        let recording = collector.finish();
        assert_eq!(recording.total(), 1);
    }

    #[test]
    fn recordings_merge_and_bad_lines_are_named() {
        let line = "{\"v\":1,\"service\":\"STS\",\"api\":\"GetCallerIdentity\",\"region\":null,\"fqdn\":null,\"count\":2}\n";
        let mut a = Recording::parse(line).unwrap();
        a.merge(Recording::parse(&format!("\n{line}")).unwrap());
        assert_eq!(a.total(), 4);
        let error = Recording::parse(&format!("{line}{{\"v\":1}}\n")).unwrap_err();
        assert_eq!(error.line, 2);
        let error = Recording::parse(&line.replace("\"v\":1", "\"v\":2")).unwrap_err();
        assert!(error.message.contains("version 2"), "{error}");
        assert!(
            Recording::parse(&line.replace("\"count\"", "\"AccessKey\":\"x\",\"count\"")).is_err()
        );
    }

    #[test]
    fn policy_groups_actions_by_scope_and_region() {
        let mut recording = Recording::new();
        let call = |service: &str, api: &str, region: Option<&str>| Call {
            service: service.into(),
            api: api.into(),
            region: region.map(str::to_string),
            fqdn: None,
        };
        recording.add(call("S3", "ListObjectsV2", Some("eu-west-1")), 3);
        recording.add(call("S3", "PutObject", Some("eu-west-1")), 1);
        recording.add(call("S3", "ListBuckets", Some("eu-west-1")), 1);
        recording.add(call("STS", "GetCallerIdentity", None), 1);
        recording.add(call("S3", "NoSuchApi", Some("eu-west-1")), 1);
        let result = policy(&recording);
        assert_eq!(
            result.policy,
            json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "Recorded1", "Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"},
                {"Sid": "Recorded2", "Effect": "Allow", "Action": ["s3:ListAllMyBuckets"], "Resource": "*",
                 "Condition": {"StringEquals": {"aws:RequestedRegion": ["eu-west-1"]}}},
                {"Sid": "RecordedNarrowByHand3", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:PutObject"],
                 "Resource": "*", "Condition": {"StringEquals": {"aws:RequestedRegion": ["eu-west-1"]}}},
            ]})
        );
        let narrow: Vec<&str> = result
            .narrow_by_hand
            .iter()
            .map(|n| n.action.as_str())
            .collect();
        assert_eq!(narrow, ["s3:ListBucket", "s3:PutObject"]);
        assert_eq!(result.unknown.len(), 1);
        assert_eq!(result.unknown[0].api, "NoSuchApi");
        // The document is one keyless-iam parses.
        crate::parse(&result.policy.to_string()).unwrap();
    }
}
