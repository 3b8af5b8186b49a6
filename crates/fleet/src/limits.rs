//! The process's open-file limit against what a fleet needs.
//!
//! A login shell on a bastion usually starts with a soft limit of 1 024 descriptors and a
//! much higher hard limit. Go programs raise the soft limit to the hard one at start
//! (since Go 1.19); the console does the same, and says once, with the number, when even
//! the hard limit is too low for the fleet it watches.

/// The open-file limit before and after [`raise_file_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimit {
    /// The soft limit the process started with.
    pub started: u64,
    /// The soft limit now: the hard limit, unless raising it failed.
    pub soft: u64,
    pub hard: u64,
}

/// The open-file limits now.
fn current() -> std::io::Result<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(limit)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit.
pub fn raise_file_limit() -> std::io::Result<FileLimit> {
    let limit = current()?;
    if limit.rlim_cur < limit.rlim_max {
        set(limit.rlim_max, limit.rlim_max)?;
    }
    Ok(FileLimit {
        started: limit.rlim_cur,
        soft: limit.rlim_max,
        hard: limit.rlim_max,
    })
}

/// Sets the soft and hard open-file limits to `limit`, as `ulimit -n` does (a benchmark
/// of the console under a login shell's limit). The hard limit cannot be raised again.
pub fn set_file_limit(limit: u64) -> std::io::Result<()> {
    set(limit, limit)
}

fn set(soft: u64, hard: u64) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit only reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The current soft open-file limit.
pub fn file_limit() -> Option<u64> {
    current().ok().map(|l| l.rlim_cur)
}

/// Descriptors the process needs for itself: the terminal, logs, journals, the runtime's
/// own, and the connections of an open environment's heavy sources and workflows.
const BASE: u64 = 64;

/// Descriptors a live fleet of `clusters` clusters needs: one connection to each API
/// server (every watch of a cluster shares it over HTTP/2), and about one in two clusters
/// with a Prometheus or Alertmanager poll in flight or just finished.
pub fn descriptors_needed(clusters: usize) -> u64 {
    BASE + (clusters as u64 * 3).div_ceil(2)
}

/// What to tell the user when `limit` is below what `clusters` clusters need.
pub fn shortfall(clusters: usize, limit: u64) -> Option<String> {
    let needed = descriptors_needed(clusters);
    if needed <= limit {
        return None;
    }
    let consequence = match http_budget(clusters, Some(limit)) {
        HttpBudget::Tight { requests } if requests > 1 => format!(
            "Prometheus and Alertmanager are asked {requests} at a time, so the overview fills \
             slowly"
        ),
        _ => "Prometheus and Alertmanager are asked one at a time, and some clusters may not \
              be reached"
            .to_owned(),
    };
    Some(format!(
        "the fleet's {clusters} clusters need about {needed} open files, but this process may \
         open only {limit}: {consequence}. Raise the hard limit (`ulimit -Hn {needed}` as root, \
         `LimitNOFILE=` in a systemd unit, or nofile in /etc/security/limits.conf), or narrow \
         the fleet with --env"
    ))
}

/// Prometheus and Alertmanager requests in flight at once, fleet-wide, under a tight
/// limit at most (as many as lists and polls may run at once).
pub const MAX_TIGHT_REQUESTS: usize = crate::sources::kube::CONCURRENT_LISTS;

/// How the live fleet's Prometheus and Alertmanager client spends descriptors: every
/// request in flight holds a connection, and so does one kept idle between the requests
/// of a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpBudget {
    /// The limit covers the worst case ([`descriptors_at_worst`]): no limit beyond the list gate, and
    /// a connection per server may idle through a poll.
    Plenty,
    /// Below it: no connection idles, and `requests` are in flight at once, what is left
    /// once the process and one API server connection per cluster are counted (at least
    /// one), so a tight limit makes the polls slower instead of failing them.
    Tight { requests: usize },
}

/// Descriptors the live fleet may hold at worst: the process's, an API server connection
/// per cluster, a Prometheus and an Alertmanager connection idling per cluster, and the
/// list gate's polls in flight on new ones. More than [`descriptors_needed`], which is
/// what it holds when polls keep no connection idle.
pub fn descriptors_at_worst(clusters: usize) -> u64 {
    BASE + 3 * clusters as u64 + MAX_TIGHT_REQUESTS as u64
}

/// The budget of `clusters` clusters under the open-file limit `limit` (`None`: unknown).
pub fn http_budget(clusters: usize, limit: Option<u64>) -> HttpBudget {
    match limit {
        Some(limit) if limit < descriptors_at_worst(clusters) => {
            let spare = limit.saturating_sub(BASE + clusters as u64);
            HttpBudget::Tight {
                requests: spare.clamp(1, MAX_TIGHT_REQUESTS as u64) as usize,
            }
        }
        _ => HttpBudget::Plenty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let limit = raise_file_limit().unwrap();
        assert_eq!(limit.soft, limit.hard);
        assert!(limit.started <= limit.soft);
        assert_eq!(file_limit(), Some(limit.hard));
    }

    #[test]
    fn a_fleet_beyond_the_limit_is_told_the_number_it_needs() {
        assert_eq!(descriptors_needed(1000), 1564);
        assert_eq!(shortfall(1000, 4096), None);
        let text = shortfall(1000, 1024).unwrap();
        assert!(
            text.contains("1000 clusters need about 1564 open files"),
            "{text}"
        );
        assert!(text.contains("only 1024"), "{text}");
        assert!(text.contains("--env"), "{text}");
        assert!(text.contains("one at a time"), "{text}");
        // Enough for every API server, not for every poll at once: slower, not failing.
        let text = shortfall(24, 96).unwrap();
        assert!(text.contains("asked 8 at a time"), "{text}");
    }

    #[test]
    fn a_tight_limit_narrows_the_requests_in_flight_and_keeps_no_idle_connection() {
        assert_eq!(http_budget(1000, None), HttpBudget::Plenty);
        assert_eq!(http_budget(1000, Some(1 << 20)), HttpBudget::Plenty);
        assert_eq!(
            http_budget(24, Some(descriptors_at_worst(24))),
            HttpBudget::Plenty
        );
        // What the fleet needs without idling is not yet at ease: 12 requests at once.
        assert_eq!(
            http_budget(24, Some(descriptors_needed(24))),
            HttpBudget::Tight { requests: 12 }
        );
        // 96 descriptors: 64 for the process, 24 API servers, 8 left for requests.
        assert_eq!(http_budget(24, Some(96)), HttpBudget::Tight { requests: 8 });
        // Plenty of spare, still below the need: no more than the list gate.
        assert_eq!(
            http_budget(1000, Some(1500)),
            HttpBudget::Tight {
                requests: MAX_TIGHT_REQUESTS
            }
        );
        // Below even the API servers' need, one request at a time still runs.
        assert_eq!(
            http_budget(1000, Some(1024)),
            HttpBudget::Tight { requests: 1 }
        );
        // At worst the budget spends no more than the limit, whenever one request fits.
        for clusters in [1, 24, 200, 1000] {
            for limit in [96, 256, 1024, 4096] {
                let worst = match http_budget(clusters, Some(limit)) {
                    HttpBudget::Plenty => descriptors_at_worst(clusters),
                    HttpBudget::Tight { requests } => BASE + clusters as u64 + requests as u64,
                };
                let fits_one = limit > BASE + clusters as u64;
                assert!(
                    worst <= limit || !fits_one,
                    "{clusters} clusters under {limit}: {worst}"
                );
            }
        }
    }
}
