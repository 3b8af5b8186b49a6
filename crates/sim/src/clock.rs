//! Simulated time. `--speed` makes simulated hours pass in real seconds, so demos and
//! tests can watch daily backups and long rollouts happen.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// A clock that runs `speed` times faster than real time from a fixed start.
#[derive(Debug, Clone)]
pub struct SimClock(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    real_start: Instant,
    sim_start: DateTime<Utc>,
    speed: f64,
}

impl SimClock {
    pub fn new(sim_start: DateTime<Utc>, speed: f64) -> SimClock {
        SimClock::starting(Instant::now(), sim_start, speed)
    }

    fn starting(real_start: Instant, sim_start: DateTime<Utc>, speed: f64) -> SimClock {
        SimClock(Arc::new(Inner {
            real_start,
            sim_start,
            speed: speed.max(0.001),
        }))
    }

    /// Starts at the wall-clock now. The instant is taken before the wall clock is read so
    /// that at speed 1 the simulated clock never lags the wall clock: clients stamp
    /// silences with their own `now`, and a server that is behind would keep them pending.
    pub fn realtime(speed: f64) -> SimClock {
        let real_start = Instant::now();
        SimClock::starting(real_start, Utc::now(), speed)
    }

    pub fn now(&self) -> DateTime<Utc> {
        let real = self.0.real_start.elapsed();
        // Full precision: truncating to milliseconds put the clock up to 1 ms behind the
        // wall clock, longer than a request on loopback takes.
        let sim = if self.0.speed == 1.0 {
            real
        } else {
            Duration::try_from_secs_f64(real.as_secs_f64() * self.0.speed).unwrap_or(Duration::MAX)
        };
        chrono::Duration::from_std(sim)
            .ok()
            .and_then(|d| self.0.sim_start.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    pub fn speed(&self) -> f64 {
        self.0.speed
    }

    /// The real duration that lasts `sim` in simulated time.
    pub fn real(&self, sim: Duration) -> Duration {
        Duration::from_secs_f64(sim.as_secs_f64() / self.0.speed)
    }

    /// Sleeps for a simulated duration.
    pub async fn sleep(&self, sim: Duration) {
        tokio::time::sleep(self.real(sim)).await;
    }

    /// When the simulation started, in simulated time.
    pub fn start(&self) -> DateTime<Utc> {
        self.0.sim_start
    }

    /// Sleeps until `sim` has passed since the start: a scenario's `at`, whenever the
    /// task that waits for it began.
    pub async fn sleep_until_elapsed(&self, sim: Duration) {
        let at = tokio::time::Instant::from_std(self.0.real_start) + self.real(sim);
        tokio::time::sleep_until(at).await;
    }
}

/// Kubernetes timestamp format (RFC 3339, whole seconds, `Z`).
pub fn k8s_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses a Kubernetes timestamp; `None` when absent or malformed.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_scales_elapsed_time_and_sleeps() {
        let start = Utc::now();
        let c = SimClock::new(start, 3600.0);
        assert_eq!(c.real(Duration::from_secs(3600)), Duration::from_secs(1));
        std::thread::sleep(Duration::from_millis(20));
        let passed = c.now() - start;
        assert!(passed >= chrono::Duration::seconds(72), "{passed}");
    }

    #[test]
    fn at_real_speed_the_clock_never_lags_the_wall_clock() {
        let c = SimClock::realtime(1.0);
        for _ in 0..20_000 {
            let wall = Utc::now();
            let sim = c.now();
            assert!(
                sim >= wall,
                "simulated {sim} is behind the wall clock {wall}"
            );
        }
    }

    #[test]
    fn timestamps_round_trip() {
        let t = parse_time("2026-11-28T03:04:05Z").unwrap();
        assert_eq!(k8s_time(t), "2026-11-28T03:04:05Z");
        assert!(parse_time("yesterday").is_none());
    }
}
