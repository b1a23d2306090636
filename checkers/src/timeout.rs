//! Step timeouts that cost nothing when the step is already done.
//!
//! `tokio::time::timeout` reads the clock and arms a timer on every call. Most steps of a
//! check (writing a small request into a fresh socket, reading the rest of a reply that has
//! already arrived) complete on their first poll, and with thousands of checks a second those
//! clock reads add up (in the UML test bed, which has no vDSO, each one is a system call).
//! `within` polls the step once and arms the timer only if it has to wait.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

pub use tokio::time::error::Elapsed;

/// Runs `step` to completion, failing with `Elapsed` if it has to wait longer than `limit`.
pub async fn within<F: Future>(limit: Duration, step: F) -> Result<F::Output, Elapsed> {
    let mut step = pin!(step);
    if let Poll::Ready(output) =
        std::future::poll_fn(|cx| Poll::Ready(step.as_mut().poll(cx))).await
    {
        return Ok(output);
    }
    tokio::time::timeout(limit, step).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ready_steps_pass_and_slow_steps_time_out() {
        assert_eq!(within(Duration::from_secs(1), async { 7 }).await, Ok(7));
        let slow = tokio::time::sleep(Duration::from_secs(30));
        assert!(within(Duration::from_millis(50), slow).await.is_err());
        let pending_then_ready = async {
            tokio::task::yield_now().await;
            8
        };
        assert_eq!(
            within(Duration::from_secs(1), pending_then_ready).await,
            Ok(8)
        );
    }
}
