//! One run per cluster at a time, across every console and script of the provider: a
//! coordination.k8s.io `Lease` per cluster, kept in the environment's service cluster (the
//! management cluster, which also holds the Cluster API objects) so that a lock exists even
//! while the workload cluster is down.
//!
//! The holder is the run id, not the process: a run resumed after its process died takes
//! its own lock back at once, while any other run waits for the lease to lapse.
//!
//! Known limit: whether a lease has lapsed is judged by comparing its `renewTime` (the
//! holder's clock) with this host's clock, so hosts whose clocks differ by more than the
//! lease's slack (60 s lease, renewed every 15 s) could both think they hold it. Bastions
//! run NTP; client-go's leader election avoids the comparison by watching the lease's
//! resourceVersion stay unchanged for a lease duration, which is the fix if it matters.

use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff;
use kube::api::{DeleteParams, Preconditions};
use kube::{Api, Client};

use crate::config::ClusterRole;

pub const NAMESPACE: &str = "kube-system";
/// How long a lock outlives a holder that stopped renewing it.
pub const DURATION: Duration = Duration::from_secs(60);
/// How often a running workflow renews its lock.
pub const RENEW_EVERY: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{cluster} is locked by run {holder} until {until} (lease {NAMESPACE}/{lease} in the service cluster); wait for it or cancel that run"
    )]
    Held {
        cluster: String,
        holder: String,
        lease: String,
        until: DateTime<Utc>,
    },
    #[error("the lock lease {NAMESPACE}/{lease}: {}", crate::failure::of_kube(.source))]
    Kube {
        lease: String,
        #[source]
        source: kube::Error,
    },
}

/// The metadata of an object the console keeps beside the lock (the lease, the audit
/// anchors): in [`NAMESPACE`], labelled as the console's.
pub(super) fn console_object(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(NAMESPACE.to_owned()),
        labels: Some([("app.kubernetes.io/managed-by".into(), "ck8s-console".into())].into()),
        ..ObjectMeta::default()
    }
}

pub fn lease_name(env: &str, role: ClusterRole) -> String {
    format!("ck8s-console-{env}-{role}")
}

/// A held lock. Drop does not release it (that needs I/O); call [`ClusterLock::release`].
#[derive(Debug)]
pub struct ClusterLock {
    api: Api<Lease>,
    name: String,
    cluster: String,
    holder: String,
}

fn micro(t: DateTime<Utc>) -> MicroTime {
    let ts = jiff::Timestamp::from_microsecond(t.timestamp_micros()).unwrap_or_default();
    MicroTime(ts)
}

fn chrono_of(t: &MicroTime) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.0.as_microsecond()).unwrap_or_default()
}

/// Who holds the lease now, and until when; `None` when nobody does.
fn current_holder(lease: &Lease) -> Option<(String, DateTime<Utc>)> {
    let spec = lease.spec.as_ref()?;
    let holder = spec.holder_identity.clone().filter(|h| !h.is_empty())?;
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?;
    let secs = spec
        .lease_duration_seconds
        .unwrap_or(DURATION.as_secs() as i32);
    Some((
        holder,
        chrono_of(renewed) + chrono::TimeDelta::seconds(secs.into()),
    ))
}

fn spec_for(holder: &str, acquired: DateTime<Utc>, now: DateTime<Utc>) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(holder.to_owned()),
        lease_duration_seconds: Some(DURATION.as_secs() as i32),
        acquire_time: Some(micro(acquired)),
        renew_time: Some(micro(now)),
        ..LeaseSpec::default()
    }
}

/// The run holding `role` of `env` now, if any: what the policy gate reports before a run
/// is started.
pub async fn holder(
    sc: Client,
    env: &str,
    role: ClusterRole,
    now: DateTime<Utc>,
) -> Result<Option<String>, LockError> {
    Ok(held_until(sc, env, role, now).await?.map(|(h, _)| h))
}

/// Refuses with [`LockError::Held`] while a run holds `role` of `env`: small actions take no
/// lock of their own, and do not run under a workflow's.
pub async fn ensure_free(
    sc: Client,
    env: &str,
    role: ClusterRole,
    now: DateTime<Utc>,
) -> Result<(), LockError> {
    match held_until(sc, env, role, now).await? {
        None => Ok(()),
        Some((holder, until)) => Err(LockError::Held {
            cluster: format!("{env}-{role}"),
            holder,
            lease: lease_name(env, role),
            until,
        }),
    }
}

async fn held_until(
    sc: Client,
    env: &str,
    role: ClusterRole,
    now: DateTime<Utc>,
) -> Result<Option<(String, DateTime<Utc>)>, LockError> {
    let name = lease_name(env, role);
    let api: Api<Lease> = Api::namespaced(sc, NAMESPACE);
    let lease = api.get_opt(&name).await.map_err(|source| LockError::Kube {
        lease: name.clone(),
        source,
    })?;
    Ok(lease
        .as_ref()
        .and_then(current_holder)
        .filter(|(_, until)| *until > now))
}

/// Takes the lock for `holder`. Optimistic concurrency on the lease's resourceVersion makes
/// two consoles racing for a free lock end with one winner.
pub async fn acquire(
    sc: Client,
    env: &str,
    role: ClusterRole,
    holder: &str,
    now: DateTime<Utc>,
) -> Result<ClusterLock, LockError> {
    let name = lease_name(env, role);
    let api: Api<Lease> = Api::namespaced(sc, NAMESPACE);
    let kube_err = |source| LockError::Kube {
        lease: name.clone(),
        source,
    };
    let lock = ClusterLock {
        api: api.clone(),
        name: name.clone(),
        cluster: format!("{env}-{role}"),
        holder: holder.to_owned(),
    };
    match api.get_opt(&name).await.map_err(kube_err)? {
        None => {
            let lease = Lease {
                metadata: console_object(&name),
                spec: Some(spec_for(holder, now, now)),
            };
            if let Err(e) = api.create(&Default::default(), &lease).await {
                return Err(lock.conflict_or(e, now).await);
            }
        }
        Some(mut lease) => {
            if let Some((other, until)) = current_holder(&lease)
                && !may_take_over(&other, holder)
                && until > now
            {
                return Err(lock.held(other, until));
            }
            lease.spec = Some(spec_for(holder, now, now));
            if let Err(e) = api.replace(&name, &Default::default(), &lease).await {
                return Err(lock.conflict_or(e, now).await);
            }
        }
    }
    Ok(lock)
}

/// Deletes the lock that run `id`'s dead process left, so the cluster is free at once
/// rather than when the lease lapses. Only a lease `me` (this host's holder identity for
/// the run) may take over, or one that has lapsed, is deleted: a process that resumed
/// the run meanwhile, here or on another host, keeps its lock. The delete is conditional
/// on the version read.
pub async fn release_dead(
    sc: Client,
    env: &str,
    role: ClusterRole,
    id: &str,
    me: &str,
    now: DateTime<Utc>,
) -> Result<bool, LockError> {
    let name = lease_name(env, role);
    let api: Api<Lease> = Api::namespaced(sc, NAMESPACE);
    let kube_err = |source| LockError::Kube {
        lease: name.clone(),
        source,
    };
    let Some(lease) = api.get_opt(&name).await.map_err(kube_err)? else {
        return Ok(false);
    };
    let dead = current_holder(&lease)
        .is_some_and(|(h, until)| holds_run(&h, id) && (until <= now || may_take_over(&h, me)));
    if !dead {
        return Ok(false);
    }
    delete_as_read(&api, &name, &lease)
        .await
        .map_err(kube_err)?;
    Ok(true)
}

/// Deletes `lease` only if it is still the version that was read: whoever changed it in
/// between (a renewal, a takeover) keeps it.
async fn delete_as_read(api: &Api<Lease>, name: &str, lease: &Lease) -> Result<(), kube::Error> {
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: lease.metadata.resource_version.clone(),
            uid: None,
        }),
        ..DeleteParams::default()
    };
    api.delete(name, &dp).await.map(drop)
}

/// Whether a holder identity is the lock of run `id` (driven by whichever process).
pub fn holds_run(holder: &str, id: &str) -> bool {
    holder.split_once(' ').is_some_and(|(run, _)| run == id)
}

/// The holder identity of a run driven by this process: `<run id> <host>:<pid>`.
pub fn holder_identity(run_id: &str, host: &str) -> String {
    format!("{run_id} {host}:{}", std::process::id())
}

/// Whether `me` may take a lease `other` holds: it is the same holder, or the same run
/// whose process on this host has died (a resume right after a crash need not wait for
/// the lease to lapse).
pub fn may_take_over(other: &str, me: &str) -> bool {
    if other == me {
        return true;
    }
    let parse = |h: &str| {
        let (run, rest) = h.split_once(' ')?;
        let (host, pid) = rest.rsplit_once(':')?;
        Some((run.to_owned(), host.to_owned(), pid.parse::<u32>().ok()?))
    };
    match (parse(other), parse(me)) {
        (Some((run_a, host_a, pid)), Some((run_b, host_b, _))) => {
            run_a == run_b && host_a == host_b && !process_alive(pid)
        }
        _ => false,
    }
}

/// Whether `pid` is a live process. A killed process its parent has not reaped yet
/// still has a `/proc` entry, in state `Z`: it is as dead as one that is gone.
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses and may hold spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_none_or(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

impl ClusterLock {
    fn held(&self, holder: String, until: DateTime<Utc>) -> LockError {
        LockError::Held {
            cluster: self.cluster.clone(),
            holder,
            lease: self.name.clone(),
            until,
        }
    }

    /// A 409 means another run won the race: read the lease again and say which run holds
    /// it, like any other held lock.
    async fn conflict_or(&self, e: kube::Error, now: DateTime<Utc>) -> LockError {
        let conflict = matches!(&e, kube::Error::Api(s) if s.code == 409);
        if conflict {
            let winner = self.api.get_opt(&self.name).await.ok().flatten();
            let other = winner
                .as_ref()
                .and_then(current_holder)
                .filter(|(holder, until)| *holder != self.holder && *until > now);
            return match other {
                Some((holder, until)) => self.held(holder, until),
                // Gone again already (the winner finished at once): still a lost race.
                None => self.held(
                    "another run (it took the lease while this one did)".into(),
                    now + chrono::TimeDelta::seconds(DURATION.as_secs() as i64),
                ),
            };
        }
        LockError::Kube {
            lease: self.name.clone(),
            source: e,
        }
    }

    /// Renews the lease; fails when someone else took it (the lease lapsed while this
    /// process could not reach the service cluster), and the run must stop.
    pub async fn renew(&self, now: DateTime<Utc>) -> Result<(), LockError> {
        let mut lease = self
            .api
            .get(&self.name)
            .await
            .map_err(|source| LockError::Kube {
                lease: self.name.clone(),
                source,
            })?;
        if let Some((other, until)) = current_holder(&lease)
            && other != self.holder
        {
            return Err(self.held(other, until));
        }
        let acquired = lease
            .spec
            .as_ref()
            .and_then(|s| s.acquire_time.as_ref())
            .map(chrono_of)
            .unwrap_or(now);
        lease.spec = Some(spec_for(&self.holder, acquired, now));
        match self
            .api
            .replace(&self.name, &Default::default(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(self.conflict_or(e, now).await),
        }
    }

    /// Deletes the lease if it is still ours. A failure only delays the next run by the
    /// lease duration, so it is logged, not raised.
    pub async fn release(self) {
        let Ok(lease) = self.api.get(&self.name).await else {
            return;
        };
        if current_holder(&lease).is_some_and(|(h, _)| h != self.holder) {
            return;
        }
        if let Err(e) = delete_as_read(&self.api, &self.name, &lease).await {
            tracing::warn!(lease = %self.name, error = %e, "releasing the run lock failed; it lapses on its own");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap()
    }

    /// A lost race (409 on create) names the run that won, read back from the lease, not
    /// "another console".
    #[test]
    fn a_lost_race_names_the_winner() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        rt.block_on(async {
            crate::install_crypto_provider();
            let sim = ck8s_sim::SimFleet::start(ck8s_sim::SimOptions {
                environments: 1,
                ..ck8s_sim::SimOptions::default()
            })
            .await
            .unwrap();
            let (kubeconfig, _) = sim.write_files(dir.path()).unwrap();
            let kc = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
            let opts = kube::config::KubeConfigOptions {
                context: Some("acme-sc".into()),
                ..Default::default()
            };
            let cfg = kube::Config::from_custom_kubeconfig(kc, &opts)
                .await
                .unwrap();
            let sc = Client::try_from(cfg).unwrap();
            let now = Utc::now();
            let winner = holder_identity("run-a", "bastion");
            acquire(sc.clone(), "acme", ClusterRole::Wc, &winner, now)
                .await
                .unwrap();
            // The loser read the lease as free, then its create was refused.
            let loser = ClusterLock {
                api: Api::namespaced(sc, NAMESPACE),
                name: lease_name("acme", ClusterRole::Wc),
                cluster: "acme-wc".into(),
                holder: holder_identity("run-b", "bastion"),
            };
            let mut conflict = kube::core::Status::failure("already exists", "AlreadyExists");
            conflict.code = 409;
            let e = loser
                .conflict_or(kube::Error::Api(Box::new(conflict)), now)
                .await;
            assert!(
                matches!(&e, LockError::Held { holder, .. } if *holder == winner),
                "{e}"
            );
            assert!(e.to_string().contains("locked by run run-a"), "{e}");
        });
    }

    #[test]
    fn a_lease_is_held_until_its_renewal_plus_duration() {
        let lease = Lease {
            metadata: ObjectMeta::default(),
            spec: Some(spec_for("run-a", at(0), at(30))),
        };
        let (holder, until) = current_holder(&lease).unwrap();
        assert_eq!(holder, "run-a");
        assert_eq!(until, at(30 + DURATION.as_secs() as i64));
    }

    #[test]
    fn only_the_same_run_on_this_host_after_its_process_died_takes_over() {
        let me = holder_identity("run-a", "bastion");
        assert!(may_take_over(&me, &me));
        // pid 0 is never a live process that /proc lists.
        assert!(may_take_over("run-a bastion:0", &me));
        let alive = format!("run-a bastion:{}", std::process::id());
        assert!(
            may_take_over(&alive, &me),
            "the same process is the same holder"
        );
        assert!(!may_take_over("run-a other-host:0", &me));
        assert!(!may_take_over("run-b bastion:0", &me));
        assert!(!may_take_over("kubectl", &me));
    }

    #[test]
    fn a_zombie_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        assert!(process_alive(std::process::id()));
        // Wait for it to exit without reaping it: it stays a zombie until `wait`.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"))
        {
            assert!(std::time::Instant::now() < deadline, "true did not exit");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!process_alive(pid), "an exited, unreaped process is dead");
        child.wait().unwrap();
        assert!(!process_alive(pid));
    }

    #[test]
    fn an_empty_holder_is_free() {
        let mut spec = spec_for("x", at(0), at(0));
        spec.holder_identity = Some(String::new());
        let lease = Lease {
            metadata: ObjectMeta::default(),
            spec: Some(spec),
        };
        assert_eq!(current_holder(&lease), None);
    }
}
